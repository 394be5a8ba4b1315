/** Per-request accounting: a Prometheus counter by method, route and status, and a debug log line (never headers or bodies). */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { PoolMetrics } from "../pool/metrics";

const QUIET_ROUTES = new Set(["/healthz", "/metrics"]);

/** Counts and logs the request when its answer is sent; `route` is asked then, once routing has matched. */
export function observeRequest(metrics: PoolMetrics, log: Logger, req: IncomingMessage, res: ServerResponse, route: () => string): void {
  const started = process.hrtime.bigint();
  res.once("finish", () => {
    const r = route();
    metrics.httpRequests.inc({ method: req.method ?? "", route: r, status: String(res.statusCode) });
    if (QUIET_ROUTES.has(r) || !log.isLevelEnabled("debug")) return;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    log.debug({ event: "http", method: req.method, route: r, status: res.statusCode, ms: Math.round(ms * 100) / 100 }, "request");
  });
}
