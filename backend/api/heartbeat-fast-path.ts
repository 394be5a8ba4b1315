/**
 * `POST /v1/instances/:id/heartbeat` served before Express. Every open editor sends one a
 * minute, so heartbeats are most of the traffic, and Express's routing and response helpers
 * cost more than the heartbeat's one UPDATE. This path gives the same answers, errors,
 * metrics and logs as the Express route (which stays, and takes anything unusual: a body, a
 * query string, an encoded path).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { PoolApi } from "../pool/api";
import { authenticate, type TokenCache } from "./auth";
import type { HeartbeatResponse } from "../../contract";
import { sendError, sendJson } from "./errors";
import { observeRequest } from "./request-log";
import { parseInstanceId } from "./validate";

export const HEARTBEAT_ROUTE = "/v1/instances/:id/heartbeat";
const PATH = /^\/v1\/instances\/([A-Za-z0-9_-]{1,80})\/heartbeat$/;

export interface FastPathDeps {
  pool: PoolApi;
  log: Logger;
  tokens: TokenCache;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
}

/** Returns a handler that serves the request and says true, or leaves it alone and says false. */
export function heartbeatFastPath(deps: FastPathDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { pool, log, tokens } = deps;
  return (req, res) => {
    if (req.method !== "POST" || !req.url || hasBody(req)) return false;
    const m = PATH.exec(req.url);
    if (!m) return false;
    const id = m[1]!;
    observeRequest(pool.metrics, log, req, res, () => HEARTBEAT_ROUTE);
    void (async () => {
      const owner = await authenticate(pool, tokens, req);
      const { idleDeadline } = await pool.heartbeat(owner.userId, parseInstanceId(id));
      const body: HeartbeatResponse = { instanceId: id, idleDeadline: new Date(idleDeadline).toISOString() };
      sendJson(res, 200, body);
    })().catch((err: unknown) => sendError(res, err, log, { method: req.method, path: req.url! }));
    // Nobody reads the (empty) body; consuming it lets the connection serve the next request.
    req.resume();
    return true;
  };
}
