/** The one error middleware: domain errors and body-parser failures become `{error:{code,message}}`. */
import type { ServerResponse } from "node:http";
import type { NextFunction, Request, Response } from "express";
import type { Logger } from "pino";
import { isPoolError, PoolError } from "../errors";

interface HttpishError {
  type?: string;
  status?: number;
  statusCode?: number;
}

export function toPoolError(err: unknown): PoolError {
  if (isPoolError(err)) return err;
  const e = err as HttpishError;
  switch (e?.type) {
    case "entity.parse.failed":
      return new PoolError("INVALID_JSON", "The request body is not valid JSON.");
    case "entity.too.large":
      return new PoolError("PAYLOAD_TOO_LARGE", "The request body is too large (limit 64 KB).");
    case "encoding.unsupported":
    case "charset.unsupported":
      return new PoolError("UNSUPPORTED_MEDIA_TYPE", "Send the body as UTF-8 JSON.");
  }
  if (e?.status === 400 || e?.statusCode === 400) return new PoolError("INVALID_REQUEST", "The request could not be read.");
  return new PoolError("INTERNAL", "Internal error; the backend's log has the details.");
}

/** Writes a JSON answer with plain Node, so the Express routes and the heartbeat fast path answer alike. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** Answers a failed request with `{error:{code,message}}`; internal errors and refusals are logged. */
export function sendError(res: ServerResponse, err: unknown, log: Logger, req: { method?: string; path: string }): void {
  const pe = toPoolError(err);
  if (pe.code === "INTERNAL") {
    log.error({ event: "request-failed", method: req.method, path: req.path, err: (err as Error)?.message, stack: (err as Error)?.stack }, "request failed");
  } else if (pe.status >= 500) {
    log.warn({ event: "request-refused", method: req.method, path: req.path, code: pe.code }, pe.message);
  }
  if (res.headersSent) return;
  sendJson(res, pe.status, { error: { code: pe.code, message: pe.message } });
}

export function errorMiddleware(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => sendError(res, err, log, req);
}

export function notFoundHandler(req: Request, _res: Response, next: NextFunction): void {
  next(new PoolError("NOT_FOUND", `No route ${req.method} ${req.path}. See /v1/openapi.json.`));
}
