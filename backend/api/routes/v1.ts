/** The /v1 REST API for the extension: per-user, and a user only ever sees their own instances. */
import { Router, type Response } from "express";
import { z } from "zod";
import { APP_NAMES } from "../../config/apps";
import type { PoolApi } from "../../pool/api";
import { requireUser, TokenCache, type AuthedRequest } from "../auth";
import type {
  ClaimResponse,
  ConnectionResponse,
  CostsResponse,
  HeartbeatResponse,
  InstanceResponse,
  InstancesResponse,
  MeResponse,
  PurposesResponse,
} from "../../../contract";
import { parseBody, parseInstanceId } from "../validate";
import { SESSION_ID_PATTERN, type EndSessionResponse, type ResumeSessionResponse } from "../../../contract";
import { PoolError } from "../../errors";
import { instanceView, purposeView } from "../views";
import { answerClaim } from "../claim-request";
import type { CostService } from "../../pool/costs";

const connectionSchema = z.object({ localPort: z.number().int().min(1024).max(65535).optional(), app: z.enum(APP_NAMES).optional() }).strict();

function sessionId(req: AuthedRequest): string {
  const raw = String(req.params.sessionId ?? "");
  if (!SESSION_ID_PATTERN.test(raw)) throw new PoolError("INVALID_REQUEST", "The session id is not a valid SSM session id.");
  return raw;
}

function instanceId(req: AuthedRequest): string {
  return parseInstanceId(String(req.params.id ?? ""));
}

export function v1Router(pool: PoolApi, costs: CostService, tokens = new TokenCache()): Router {
  const r = Router();
  r.use(requireUser(pool, tokens));
  const user = (req: AuthedRequest) => req.user!.userId;

  r.get("/me", (req: AuthedRequest, res: Response<MeResponse>) => {
    res.json({ userId: user(req), isAdmin: req.user!.isAdmin });
  });

  r.get("/purposes", async (_req, res: Response<PurposesResponse>) => {
    const purposes = (await pool.purposePrices()).map(({ purpose, hourlyPrice }) => purposeView(purpose, pool.config, hourlyPrice));
    res.json({ purposes, defaultPurpose: pool.config.purposes[0]!.name });
  });

  // Most claims are served by the fast path before Express (claim-fast-path.ts), with the same answers.
  r.post("/claims", async (req: AuthedRequest, res: Response<ClaimResponse>) => {
    const { status, body } = await answerClaim(pool, user(req), req.body);
    res.status(status).json(body);
  });

  r.get("/instances", async (req: AuthedRequest, res: Response<InstancesResponse>) => {
    const list = await pool.listMine(user(req));
    res.json({ instances: list.map((i) => instanceView(i, pool.config)) });
  });

  r.get("/instances/:id", async (req: AuthedRequest, res: Response<InstanceResponse>) => {
    const inst = await pool.getMine(user(req), instanceId(req));
    res.json({ instance: instanceView(inst, pool.config) });
  });

  r.delete("/instances/:id", async (req: AuthedRequest, res: Response<InstanceResponse>) => {
    const inst = await pool.release(user(req), instanceId(req));
    res.json({ instance: instanceView(inst, pool.config) });
  });

  r.post("/instances/:id/heartbeat", async (req: AuthedRequest, res: Response<HeartbeatResponse>) => {
    const id = instanceId(req);
    const { idleDeadline } = await pool.heartbeat(user(req), id);
    res.json({ instanceId: id, idleDeadline: new Date(idleDeadline).toISOString() });
  });

  r.post("/instances/:id/connection", async (req: AuthedRequest, res: Response<ConnectionResponse>) => {
    const id = instanceId(req);
    const body = parseBody(connectionSchema, req.body);
    res.json(await pool.connect(user(req), id, body.localPort, body.app));
  });

  r.post("/instances/:id/sessions/:sessionId/resume", async (req: AuthedRequest, res: Response<ResumeSessionResponse>) => {
    res.json(await pool.resumeSession(user(req), instanceId(req), sessionId(req)));
  });

  r.delete("/instances/:id/sessions/:sessionId", async (req: AuthedRequest, res: Response<EndSessionResponse>) => {
    res.json(await pool.endSession(user(req), instanceId(req), sessionId(req)));
  });

  r.get("/costs", async (req: AuthedRequest, res: Response<CostsResponse>) => {
    res.json(await costs.forUser(user(req)));
  });

  return r;
}
