/** The `--policy` argument of the simulator's command lines (simulate.ts, speed.ts). */
import { InvalidArgumentError } from "commander";
import type { SimPolicy } from "./engine";
import { DEFAULT_OFFICE_HOURS } from "./schedule";

export function parsePolicy(text: string, zones: string[] = ["Europe/Berlin"]): SimPolicy {
  if (text === "adaptive") return { kind: "adaptive" };
  if (text === "adaptive:uncalibrated") return { kind: "adaptive", calibrate: false };
  const m = /^(static|schedule):(\d{1,4})$/.exec(text);
  if (m?.[1] === "static") return { kind: "static", warm: Number(m[2]) };
  if (m) return { kind: "schedule", warm: Number(m[2]), hours: { zones, ...DEFAULT_OFFICE_HOURS } };
  throw new InvalidArgumentError('use "static:N" (N warm instances, e.g. static:3), "schedule:N" (N during office hours), "adaptive" or "adaptive:uncalibrated"');
}
