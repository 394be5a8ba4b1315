/**
 * Jupyter's own activity, for the keep-alive: a kernel computing with its panel hidden sends
 * nothing through the tunnel, yet the user is working. The probe asks Jupyter (its /api/status
 * `last_activity`, and its kernels' execution_state) at the tunnel's far end, not through our
 * forwarder, so the probe itself never counts as the user's traffic; and it reads the kernels
 * with `no_track_activity`, so it does not move last_activity either.
 */
import { request } from "node:http";

export type GetJson = (host: string, port: number, path: string) => Promise<unknown>;

export interface JupyterReading {
  lastActivity: number | null;
  busyKernels: number;
}

export function readJupyterAnswers(status: unknown, kernels: unknown): JupyterReading {
  const last = (status as { last_activity?: unknown } | null)?.last_activity;
  const t = typeof last === "string" ? Date.parse(last) : NaN;
  const busy = Array.isArray(kernels) ? kernels.filter((k) => (k as { execution_state?: unknown } | null)?.execution_state === "busy").length : 0;
  return { lastActivity: Number.isFinite(t) ? t : null, busyKernels: busy };
}

export class JupyterActivityProbe {
  private readonly seen = new Map<string, number | null>();

  constructor(private readonly getJson: GetJson = httpGetJson) {}

  /** Whether Jupyter worked since the last probe of this key: a kernel is busy, or last_activity moved on. */
  async worked(key: string, at: { host: string; port: number }): Promise<boolean> {
    const [status, kernels] = await Promise.all([this.getJson(at.host, at.port, "/api/status"), this.getJson(at.host, at.port, "/api/kernels?no_track_activity=1")]);
    const r = readJupyterAnswers(status, kernels);
    const before = this.seen.get(key);
    this.seen.set(key, r.lastActivity);
    const moved = before !== undefined && r.lastActivity !== null && (before === null || r.lastActivity > before);
    return r.busyKernels > 0 || moved;
  }

  forget(key: string): void {
    this.seen.delete(key);
  }
}

export function httpGetJson(host: string, port: number, path: string, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: "GET", timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error(`GET ${path}: not JSON`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
