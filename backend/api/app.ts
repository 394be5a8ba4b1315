/**
 * The HTTP application: health, metrics, the OpenAPI document, the /v1 API and the old command
 * protocol, with one JSON body parser (64 KB limit) and one error middleware. Request logs
 * carry method, route, status and duration; never headers or bodies.
 */
import type { RequestListener } from "node:http";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { PoolError } from "../errors";
import type { CostService } from "../pool/costs";
import type { PoolApi } from "../pool/api";
import { TokenCache } from "./auth";
import { errorMiddleware, notFoundHandler } from "./errors";
import { claimFastPath } from "./claim-fast-path";
import { heartbeatFastPath } from "./heartbeat-fast-path";
import { openApiDocument } from "./openapi";
import { observeRequest } from "./request-log";
import { adminPoolRouter } from "./routes/admin-pool";
import { jobsRouter, keepAliveRouter } from "./routes/jobs";
import { legacyRouter } from "./routes/legacy";
import { v1Router } from "./routes/v1";

export interface AppDeps {
  pool: PoolApi;
  costs: CostService;
  log: Logger;
  version?: string;
  /** Extra routers mounted under /v1 before the user routes (admin reports). */
  extraV1?: express.Router[];
  /** Serve heartbeats and claims before Express (default true; tests compare both paths). */
  fastPaths?: boolean;
}

function requireJsonWhenBody(req: Request, _res: Response, next: NextFunction): void {
  const hasBody = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
  if (hasBody && !req.is(["application/json", "application/*+json"])) {
    next(new PoolError("UNSUPPORTED_MEDIA_TYPE", "Send the body as JSON with Content-Type: application/json."));
    return;
  }
  next();
}

/**
 * The route template a request matched ("/v1/instances/:id"), for metrics. Express restores
 * `req.baseUrl` when an error leaves a router, so the mount point is remembered on the way in.
 */
function routeLabel(req: Request, res: Response): string {
  if (!req.route?.path) return "unmatched";
  return `${req.baseUrl || (res.locals.mount as string | undefined) || ""}${req.route.path}`;
}

function rememberMount(req: Request, res: Response, next: NextFunction): void {
  res.locals.mount = req.baseUrl;
  next();
}

/**
 * The backend's HTTP request handler: the heartbeat and claim fast paths first, then the Express app.
 * It is a plain Node request listener (`http.createServer(createApp(deps))`).
 */
export function createApp(deps: AppDeps): RequestListener {
  const tokens = new TokenCache();
  const app = expressApp(deps, tokens);
  if (deps.fastPaths === false) return app;
  const heartbeat = heartbeatFastPath({ pool: deps.pool, log: deps.log, tokens });
  const claim = claimFastPath({ pool: deps.pool, log: deps.log, tokens });
  return (req, res) => {
    if (!heartbeat(req, res) && !claim(req, res)) app(req, res);
  };
}

function expressApp(deps: AppDeps, tokens: TokenCache): express.Express {
  const { pool, log } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("trust proxy", false);

  app.use((req, res, next) => {
    observeRequest(pool.metrics, log, req, res, () => routeLabel(req, res));
    next();
  });

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/metrics", async (_req, res) => {
    const { contentType, text } = await pool.metricsText();
    res.type(contentType).send(text);
  });

  app.get("/v1/openapi.json", (_req, res) => {
    res.json(openApiDocument(deps.version ?? "0.0.0"));
  });

  app.use(requireJsonWhenBody);
  // Jobs carry scripts: their router checks the token, then parses a larger body itself.
  app.use("/v1/jobs", rememberMount, jobsRouter(pool, tokens));
  app.use(express.json({ limit: "64kb", strict: true, type: ["application/json", "application/*+json"] }));
  app.use("/v1", rememberMount);
  app.use("/v1", keepAliveRouter(pool, tokens));
  for (const r of deps.extraV1 ?? []) app.use("/v1", r);
  app.use("/v1", adminPoolRouter(pool, tokens));
  app.use("/v1", v1Router(pool, deps.costs, tokens));
  app.use(legacyRouter(pool));
  app.use(notFoundHandler);
  app.use(errorMiddleware(log));
  return app;
}
