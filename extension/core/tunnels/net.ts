/** Small loopback helpers for tunnels: a free local port, and waiting until HTTP answers on one. */
import { request } from "node:http";
import { sleep, type Clock } from "../emitter";
import { ExtensionError } from "../errors";

export { freePort } from "../../../backend/net/free-port";

/** One HTTP GET; any answer (even 302 or 401) means the server is there. */
export function httpAnswers(port: number, path = "/", timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET", timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(true);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(false));
    req.end();
  });
}

export async function waitForHttp(port: number, opts: { clock: Clock; timeoutMs: number; intervalMs?: number; signal?: AbortSignal; path?: string; isDead?: () => boolean }): Promise<void> {
  const until = opts.clock.now() + opts.timeoutMs;
  for (;;) {
    if (await httpAnswers(port, opts.path)) return;
    if (opts.isDead?.()) throw new ExtensionError("TUNNEL_FAILED", "the tunnel process ended before RStudio answered");
    if (opts.clock.now() >= until) {
      throw new ExtensionError("TUNNEL_FAILED", `RStudio did not answer on 127.0.0.1:${port} within ${Math.round(opts.timeoutMs / 1000)} s`);
    }
    await sleep(opts.clock, opts.intervalMs ?? 500, opts.signal);
  }
}
