/**
 * `POST /v1/claims` served before Express, like heartbeats (heartbeat-fast-path.ts). Claims
 * come in bursts (a class starting, a morning), and Express's router and JSON body parser cost
 * more than the warm claim itself. This path gives the same answers, errors (in the same order:
 * the body's size and syntax, then the token, then the body's fields), metrics and logs as the
 * Express route, which stays and takes anything unusual: a query string, a chunked or
 * compressed body, a media type or charset other than plain JSON in UTF-8.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { PoolError } from "../errors";
import { authenticate } from "./auth";
import { answerClaim, CLAIMS_ROUTE } from "./claim-request";
import { sendError, sendJson } from "./errors";
import type { FastPathDeps } from "./heartbeat-fast-path";
import { observeRequest } from "./request-log";

/** The JSON body parser's limit (app.ts: 64 KB). */
export const CLAIM_BODY_LIMIT = 64 * 1024;

const JSON_TYPE = /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i;

/** Whether this path answers the request exactly as Express would; anything else goes to Express. */
function servable(req: IncomingMessage): boolean {
  if (req.method !== "POST" || req.url !== CLAIMS_ROUTE) return false;
  const h = req.headers;
  if (h["transfer-encoding"] !== undefined) return false;
  const encoding = h["content-encoding"];
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") return false;
  const length = h["content-length"];
  if (length === undefined || length === "0") return true;
  if (!/^\d+$/.test(length)) return false;
  return JSON_TYPE.test(h["content-type"] ?? "");
}

/** The body as text, or PAYLOAD_TOO_LARGE once it passes the limit (the rest is drained, so the connection lives on). */
function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared === 0) {
    req.resume();
    return Promise.resolve("");
  }
  if (declared > CLAIM_BODY_LIMIT) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= CLAIM_BODY_LIMIT) chunks.push(c);
    });
    req.once("end", () => (size > CLAIM_BODY_LIMIT ? reject(tooLarge()) : resolve(Buffer.concat(chunks, size).toString("utf8"))));
    req.once("error", () => reject(new PoolError("INVALID_REQUEST", "The request could not be read.")));
  });
}

const tooLarge = () => new PoolError("PAYLOAD_TOO_LARGE", "The request body is too large (limit 64 KB).");

/** What the JSON body parser (strict) makes of the text: an object or array, {} when empty. */
function parseJson(text: string): unknown {
  // The parser decodes UTF-8 without a byte-order mark.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.length === 0) return {};
  const first = /^[\x20\x09\x0a\x0d]*(.)/.exec(body)?.[1];
  if (first !== "{" && first !== "[") throw new PoolError("INVALID_JSON", "The request body is not valid JSON.");
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new PoolError("INVALID_JSON", "The request body is not valid JSON.");
  }
}

/** Returns a handler that serves the request and says true, or leaves it alone and says false. */
export function claimFastPath(deps: FastPathDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { pool, log, tokens } = deps;
  return (req, res) => {
    if (!servable(req)) return false;
    observeRequest(pool.metrics, log, req, res, () => CLAIMS_ROUTE);
    void (async () => {
      const body = parseJson(await readBody(req));
      const owner = await authenticate(pool, tokens, req);
      const answer = await answerClaim(pool, owner.userId, body);
      sendJson(res, answer.status, answer.body);
    })().catch((err: unknown) => sendError(res, err, log, { method: req.method, path: CLAIMS_ROUTE }));
    return true;
  };
}
