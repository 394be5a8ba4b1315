/**
 * The /v1 routes of batch jobs and keep-alive holds (issue #18). A user only ever sees their
 * own jobs: another user's job id answers 404 JOB_NOT_FOUND, like one that does not exist.
 * POST /v1/jobs takes a larger JSON body than the rest of the API (a script and its files, up
 * to the largest purpose's `jobs.maxScriptBytes`), parsed only after the token is checked.
 */
import express, { Router, type NextFunction, type Request, type Response } from "express";
import type { JobListResponse, JobLogChunk, JobView, KeepAliveView } from "../../../contract/jobs";
import { PoolError } from "../../errors";
import { jobRequestSchema } from "../../jobs/submit";
import { validateKeepAlive } from "../../jobs/keep-alive";
import type { PoolApi } from "../../pool/api";
import { requireUser, TokenCache, type AuthedRequest } from "../auth";
import { parseBody, parseInstanceId } from "../validate";

/** How often a followed log is read again. */
const FOLLOW_POLL_MS = 500;

/** The body limit of POST /v1/jobs: the largest purpose's script limit, in base64 and JSON. */
export function jobBodyLimit(pool: Pick<PoolApi, "config">): number {
  const most = Math.max(...pool.config.purposes.map((p) => p.jobs.maxScriptBytes));
  return Math.ceil(most * 1.4) + 64 * 1024;
}

function offsetOf(req: Request): number {
  const raw = req.query.offset;
  if (raw === undefined) return 0;
  if (typeof raw !== "string" || !/^\d{1,15}$/.test(raw)) throw new PoolError("INVALID_REQUEST", 'Invalid query "offset": a byte offset (a non-negative integer).');
  return Number(raw);
}

function followOf(req: Request): boolean {
  const raw = req.query.follow;
  if (raw === undefined) return false;
  if (raw === "1" || raw === "true") return true;
  if (raw === "0" || raw === "false") return false;
  throw new PoolError("INVALID_REQUEST", 'Invalid query "follow": use 1 or 0.');
}

/** Mounted at /v1/jobs before the API's own JSON parser. */
export function jobsRouter(pool: PoolApi, tokens = new TokenCache()): Router {
  const r = Router();
  r.use(requireUser(pool, tokens));
  const user = (req: AuthedRequest) => req.user!.userId;
  const limit = jobBodyLimit(pool);
  const json = express.json({ limit, strict: true, type: ["application/json", "application/*+json"] });
  const tooLarge = (err: unknown, _req: Request, _res: Response, next: NextFunction) => {
    if ((err as { type?: string })?.type === "entity.too.large") {
      next(new PoolError("SCRIPT_TOO_LARGE", `The request is over ${limit} bytes; put large inputs in your home and read them from the script.`));
      return;
    }
    next(err);
  };

  r.post("/", json, tooLarge, async (req: AuthedRequest, res: Response<JobView>) => {
    const body = parseBody(jobRequestSchema, req.body);
    res.status(201).json(await pool.submitJob(user(req), body));
  });

  r.get("/", async (req: AuthedRequest, res: Response<JobListResponse>) => {
    res.json({ jobs: await pool.listJobs(user(req)) });
  });

  r.get("/:id", async (req: AuthedRequest, res: Response<JobView>) => {
    res.json(await pool.getJob(user(req), String(req.params.id)));
  });

  r.get("/:id/log", async (req: AuthedRequest, res: Response<JobLogChunk | string>) => {
    const id = String(req.params.id);
    let offset = offsetOf(req);
    if (!followOf(req)) {
      res.json(await pool.jobLog(user(req), id, offset));
      return;
    }
    // The first read answers errors (404) in the usual JSON shape; then the log streams as text until the job ends.
    let chunk = await pool.jobLog(user(req), id, offset);
    let closed = false;
    req.on("close", () => (closed = true));
    res.status(200).set({ "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" });
    res.flushHeaders();
    for (;;) {
      if (chunk.text) res.write(chunk.text);
      offset = chunk.nextOffset;
      if (chunk.complete || closed) break;
      if (!chunk.text) await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
      if (closed) break;
      try {
        chunk = await pool.jobLog(user(req), id, offset);
      } catch {
        break;
      }
    }
    res.end();
  });

  r.delete("/:id", async (req: AuthedRequest, res: Response<JobView>) => {
    res.json(await pool.cancelJob(user(req), String(req.params.id)));
  });

  return r;
}

/** Mounted at /v1 after the API's JSON parser: "keep this instance until this process ends". */
export function keepAliveRouter(pool: PoolApi, tokens = new TokenCache()): Router {
  const r = Router();
  const path = "/instances/:id/keep-alive";
  r.use(path, requireUser(pool, tokens));
  const user = (req: AuthedRequest) => req.user!.userId;
  const id = (req: AuthedRequest) => parseInstanceId(String(req.params.id ?? ""));

  r.post(path, async (req: AuthedRequest, res: Response<KeepAliveView>) => {
    const instanceId = id(req);
    res.json(await pool.setKeepAlive(user(req), instanceId, validateKeepAlive(req.body)));
  });
  r.get(path, async (req: AuthedRequest, res: Response<KeepAliveView>) => {
    res.json(await pool.getKeepAlive(user(req), id(req)));
  });
  r.delete(path, async (req: AuthedRequest, res: Response<KeepAliveView>) => {
    res.json(await pool.endKeepAlive(user(req), id(req)));
  });
  return r;
}
