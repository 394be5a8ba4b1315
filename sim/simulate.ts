/**
 * `npm run simulate -- --trace FILE --policy static:3|adaptive|adaptive:uncalibrated|schedule:3
 * [--boot-seconds 150] [--office-tz Europe/Berlin,America/New_York]`: replays a trace through the
 * pool and prints one JSON object with the results.
 */
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { DEFAULT_SIM, simulate, type SimPolicy } from "./engine";
import { DEFAULT_OFFICE_HOURS } from "./schedule";
import { parseTrace } from "./trace";

export function parsePolicy(text: string, zones: string[] = ["Europe/Berlin"]): SimPolicy {
  if (text === "adaptive") return { kind: "adaptive" };
  if (text === "adaptive:uncalibrated") return { kind: "adaptive", calibrate: false };
  const m = /^(static|schedule):(\d{1,4})$/.exec(text);
  if (m?.[1] === "static") return { kind: "static", warm: Number(m[2]) };
  if (m) return { kind: "schedule", warm: Number(m[2]), hours: { zones, ...DEFAULT_OFFICE_HOURS } };
  throw new InvalidArgumentError('use "static:N" (N warm instances, e.g. static:3), "schedule:N" (N during office hours), "adaptive" or "adaptive:uncalibrated"');
}

const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number");
  return n;
};

const program = new Command("simulate")
  .description("replay a claims trace through the pool with a simulated clock and provider")
  .requiredOption("--trace <file>", "CSV: timestamp,userId,purpose,sessionSeconds[,forgetsToClose]")
  .requiredOption("--policy <policy>", "static:N | schedule:N | adaptive | adaptive:uncalibrated")
  .option("--office-tz <zones>", "schedule:N: comma-separated office time zones", "Europe/Berlin")
  .option("--boot-seconds <s>", "time from launch to ready", positive, DEFAULT_SIM.bootSeconds)
  .option("--price <perHour>", "hourly price of an instance", positive, DEFAULT_SIM.hourlyPrice)
  .option("--idle-timeout <s>", "idle timeout of the purpose", positive, DEFAULT_SIM.idleTimeoutSeconds)
  .option("--service-level <p>", "adaptive: target probability", positive, DEFAULT_SIM.serviceLevel)
  .action(async (o: { trace: string; policy: string; officeTz: string; bootSeconds: number; price: number; idleTimeout: number; serviceLevel: number }) => {
    const zones = o.officeTz.split(",").map((z) => z.trim());
    for (const timeZone of zones) {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone });
      } catch {
        throw new InvalidArgumentError(`unknown time zone "${timeZone}"`);
      }
    }
    const policy = parsePolicy(o.policy, zones);
    const rows = parseTrace(readFileSync(o.trace, "utf8"));
    const result = await simulate(rows, {
      ...DEFAULT_SIM,
      policy,
      bootSeconds: o.bootSeconds,
      hourlyPrice: o.price,
      idleTimeoutSeconds: o.idleTimeout,
      serviceLevel: o.serviceLevel,
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  });

if (require.main === module) {
  program.parseAsync(process.argv).catch((err: Error) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  });
}
