/**
 * Starts moto (an AWS emulator we did not write, ../shared/tools/moto-server beside the
 * checkout) on a free port. Absent: the tests skip loudly, unless MOTO_REQUIRED=1 or CI=true.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { freePort } from "../../../../backend/net/free-port";

export const motoRequired = (): boolean => process.env.MOTO_REQUIRED === "1" || process.env.CI === "true";

const ROOT = path.resolve(__dirname, "..", "..", "..", "..");

export function findMoto(): string | null {
  for (const c of [path.resolve(ROOT, "..", "shared", "tools", "moto-server"), "/work/shared/tools/moto-server"]) {
    if (existsSync(c)) return c;
  }
  return null;
}

export interface Moto {
  url: string;
  child: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

export async function startMoto(script: string, env: Record<string, string> = {}): Promise<Moto> {
  const port = await freePort();
  const child = spawn("bash", [script, String(port)], { env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: "true", ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let log = "";
  child.stdout!.on("data", (d) => (log = (log + d).slice(-20_000)));
  child.stderr!.on("data", (d) => (log = (log + d).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto exited with ${child.exitCode}: ${log}`);
    try {
      const res = await fetch(`${url}/moto-api/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto did not start on ${url}: ${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    child,
    log: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        process.kill(-child.pid!, "SIGTERM");
      }),
  };
}
