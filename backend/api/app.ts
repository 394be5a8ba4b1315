/**
 * The HTTP application: health, metrics, the OpenAPI document, the /v1 API and the old command
 * protocol, with one JSON body parser (64 KB limit) and one error middleware. Request logs
 * carry method, route, status and duration; never headers or bodies.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { PoolError } from "../errors";
import type { CostService } from "../pool/costs";
import type { Pool } from "../pool/service";
import { countsByState } from "../store/stats";
import { errorMiddleware, notFoundHandler } from "./errors";
import { openApiDocument } from "./openapi";
import { legacyRouter } from "./routes/legacy";
import { v1Router } from "./routes/v1";

export interface AppDeps {
  pool: Pool;
  costs: CostService;
  log: Logger;
  version?: string;
  /** Extra routers mounted under /v1 before the user routes (admin reports). */
  extraV1?: express.Router[];
}

function requireJsonWhenBody(req: Request, _res: Response, next: NextFunction): void {
  const hasBody = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
  if (hasBody && !req.is(["application/json", "application/*+json"])) {
    next(new PoolError("UNSUPPORTED_MEDIA_TYPE", "Send the body as JSON with Content-Type: application/json."));
    return;
  }
  next();
}

export function createApp(deps: AppDeps): express.Express {
  const { pool, log } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("trust proxy", false);

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : "unmatched";
      pool.ctx.metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      if (route === "/healthz" || route === "/metrics") return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.debug({ event: "http", method: req.method, route, status: res.statusCode, ms: Math.round(ms * 100) / 100 }, "request");
    });
    next();
  });

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/metrics", async (_req, res) => {
    const gauge = pool.ctx.metrics.poolSize;
    gauge.reset();
    for (const row of await countsByState(pool.db)) {
      gauge.set({ purpose: row.purpose, state: row.state, assigned: row.assigned ? "yes" : "no" }, row.count);
    }
    res.type(pool.ctx.metrics.registry.contentType).send(await pool.ctx.metrics.registry.metrics());
  });

  app.get("/v1/openapi.json", (_req, res) => {
    res.json(openApiDocument(deps.version ?? "0.0.0"));
  });

  app.use(requireJsonWhenBody);
  app.use(express.json({ limit: "64kb", strict: true, type: ["application/json", "application/*+json"] }));
  for (const r of deps.extraV1 ?? []) app.use("/v1", r);
  app.use("/v1", v1Router(pool, deps.costs));
  app.use(legacyRouter(pool));
  app.use(notFoundHandler);
  app.use(errorMiddleware(log));
  return app;
}
