/**
 * moto, an AWS emulator we did not write, for tests that must not only agree with our own fake.
 * It lives in ../shared/tools beside the checkout (CI) or /work/shared/tools (a developer's
 * sandbox), not in the project. Absent: the test is skipped loudly; with MOTO_REQUIRED=1 or
 * CI=true it fails instead.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { freePort } from "../../../backend/net/free-port";

const repoRoot = path.resolve(__dirname, "../../..");
const candidates = [path.resolve(repoRoot, "../shared/tools/moto-server"), "/work/shared/tools/moto-server"];

export function motoServerPath(): string | null {
  return candidates.find((p) => existsSync(p)) ?? null;
}

function motoRequired(): boolean {
  return process.env.MOTO_REQUIRED === "1" || process.env.CI === "true";
}

/** The `skip` option for a moto test: false when it can run, a loud reason otherwise. */
export function motoSkip(): string | false {
  const found = motoServerPath();
  const python = existsSync("/usr/bin/python3");
  if (found && python) return false;
  const reason = `moto tests SKIPPED: ${found ? "Debian's /usr/bin/python3 is missing" : `moto-server not found (looked in ${candidates.join(", ")})`}; run ../shared/tools/moto-server --install`;
  if (motoRequired()) throw new Error(`${reason} (MOTO_REQUIRED=1 or CI=true)`);
  process.stderr.write(`\n!!! ${reason}\n\n`);
  return reason;
}

export interface Moto {
  url: string;
  stop(): Promise<void>;
}

/** Starts a fresh moto on a free loopback port and waits until it answers. */
export async function startMoto(env: Record<string, string> = {}): Promise<Moto> {
  const bin = motoServerPath();
  if (!bin) throw new Error("moto-server not found");
  const port = await freePort();
  const child: ChildProcess = spawn(bin, [String(port)], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (b) => (stderr = (stderr + b).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto exited with ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${url}/moto-api/`);
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`moto did not answer within 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}
