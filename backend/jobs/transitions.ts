/**
 * The job state machine and its one owner. Every change of a job's `state` goes through
 * `jobTransition` (and every new job through `createJob`): the guarded UPDATE, its history
 * event (kind `job-<state>`, details with the job id) in the same transaction, the metric and
 * the log. A pair missing from the table is refused before anything is written.
 */
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { Counter, type Registry } from "prom-client";
import type { JobState } from "../../contract/jobs";
import type { PoolContext } from "../pool/context";
import { recordEvent, type EventKind } from "../store/events";
import { insertJob, writeJobStateGuarded, type Job, type JobPatch } from "../store/jobs";
import type { Database } from "../store/schema";

/** Allowed changes: from → to → why it happens. */
export const JOB_TRANSITIONS: { readonly [F in JobState]: { readonly [T in JobState]?: string } } = {
  queued: {
    starting: "there is room: an instance was claimed for it (or its runner takes it directly)",
    cancelled: "its user cancelled it before it started",
    failed: "refused when its turn came: the budget is exhausted, or its purpose was removed",
  },
  starting: {
    running: "its runner started the process",
    failed: "its instance failed or vanished before it ran, or the runner could not start it",
    cancelled: "its user cancelled it, or it reached the maximum runtime while starting",
  },
  running: {
    succeeded: "the process exited with 0",
    failed: "the process exited with another code, or vanished with its instance",
    cancelled: "its user cancelled it, or it reached the purpose's maximum runtime",
  },
  succeeded: {},
  failed: {},
  cancelled: {},
};

/** States a new job may start in. */
export const JOB_CREATIONS: { readonly [S in JobState]?: string } = {
  queued: "submitted (POST /v1/jobs): it waits for room",
};

export const JOB_ID_PATTERN = /^job-[0-9a-f]{16}$/;

export function newJobId(): string {
  return `job-${randomBytes(8).toString("hex")}`;
}

export function isJobTransitionAllowed(from: JobState, to: JobState): boolean {
  return JOB_TRANSITIONS[from][to] !== undefined;
}

export class JobTransitionRefused extends Error {
  constructor(from: readonly string[], to: JobState) {
    super(`job state change ${from.join("|")} → ${to} is not in the transition table`);
    this.name = "JobTransitionRefused";
  }
}

type Ctx = Pick<PoolContext, "db" | "clock" | "log" | "metrics">;

export interface JobEventSpec {
  reason?: string | null;
  actor: string;
  /** The instance concerned (placement, release), if any. */
  instanceId?: string | null;
  details?: Record<string, unknown>;
}

export interface JobTransition {
  from: JobState | readonly JobState[];
  to: JobState;
  patch?: JobPatch;
  event: JobEventSpec;
  log?: { level?: "info" | "warn" | "error"; msg: string; fields?: Record<string, unknown> };
}

const counters = new WeakMap<Registry, Counter<"from" | "to">>();
function jobMetric(ctx: Ctx): Counter<"from" | "to"> {
  const registry = ctx.metrics.registry;
  let c = counters.get(registry);
  if (!c) {
    c = new Counter({ name: "rstudio_pool_job_transitions_total", help: "Job state changes, by from and to state", labelNames: ["from", "to"], registers: [registry] });
    counters.set(registry, c);
  }
  return c;
}

function atomically<T>(db: Kysely<Database>, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

function eventOf(job: Pick<Job, "id" | "ownerId" | "purpose">, to: JobState, e: JobEventSpec, at: number) {
  return {
    at,
    instanceId: e.instanceId ?? null,
    userId: job.ownerId,
    purpose: job.purpose,
    kind: `job-${to}` as EventKind,
    reason: e.reason ?? null,
    actor: e.actor,
    details: { jobId: job.id, ...e.details },
  };
}

/**
 * Changes a job's state if it is still in `t.from`: the row and its event in one transaction
 * (the caller's, when `db` is one). Returns whether it changed (false: someone else moved it first).
 */
export async function jobTransition(ctx: Ctx, job: Pick<Job, "id" | "ownerId" | "purpose">, t: JobTransition, db: Kysely<Database> = ctx.db): Promise<boolean> {
  const from = typeof t.from === "string" ? [t.from] : t.from;
  if (from.length === 0 || from.some((f) => !isJobTransitionAllowed(f, t.to))) throw new JobTransitionRefused(from, t.to);
  const now = ctx.clock.now();
  const changed = await atomically(db, async (trx) => {
    if (!(await writeJobStateGuarded(trx, job.id, from, t.to, { updatedAt: now, ...t.patch }))) return false;
    await recordEvent(trx, eventOf(job, t.to, t.event, now));
    return true;
  });
  if (changed) {
    jobMetric(ctx).inc({ from: from.length === 1 ? from[0]! : "any", to: t.to });
    if (t.log) ctx.log[t.log.level ?? "info"]({ event: `job-${t.to}`, jobId: job.id, userId: job.ownerId, purpose: job.purpose, ...t.log.fields }, t.log.msg);
  }
  return changed;
}

/** Inserts a new job in a JOB_CREATIONS state with its first event, atomically. */
export async function createJob(ctx: Ctx, job: Job, e: JobEventSpec, db: Kysely<Database> = ctx.db): Promise<void> {
  if (JOB_CREATIONS[job.state] === undefined) throw new JobTransitionRefused(["(new)"], job.state);
  await atomically(db, async (trx) => {
    await insertJob(trx, job);
    await recordEvent(trx, eventOf(job, job.state, e, job.createdAt));
  });
  jobMetric(ctx).inc({ from: "new", to: job.state });
  ctx.log.info({ event: `job-${job.state}`, jobId: job.id, userId: job.ownerId, purpose: job.purpose }, "job submitted");
}
