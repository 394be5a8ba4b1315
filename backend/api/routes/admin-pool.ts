/**
 * GET /v1/admin/instances (every live instance) and GET /v1/admin/events (the history,
 * filtered and paged), for admin tokens only. The routes call Pool methods and nothing else.
 */
import { Router, type Response } from "express";
import type { AdminInstance, EventPage } from "../../pool/admin-views";
import { parseEventFilter } from "../../pool/admin-views";
import type { PoolApi } from "../../pool/api";
import { requireAdmin, requireUser, TokenCache, type AuthedRequest } from "../auth";

export function adminPoolRouter(pool: PoolApi, tokens = new TokenCache()): Router {
  const r = Router();
  const admin = [requireUser(pool, tokens), requireAdmin];
  r.get("/admin/instances", ...admin, async (_req: AuthedRequest, res: Response<{ instances: AdminInstance[] }>) => {
    res.json({ instances: await pool.adminInstances() });
  });
  r.get("/admin/events", ...admin, async (req: AuthedRequest, res: Response<EventPage>) => {
    res.json(await pool.adminEvents(parseEventFilter(req.query as Record<string, unknown>)));
  });
  return r;
}
