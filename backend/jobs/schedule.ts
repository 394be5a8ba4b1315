/**
 * Starting queued jobs when there is room: a per-user queue in front of the runners, not a
 * cluster scheduler. Per purpose, jobs start in the fair order (fair-order.ts) while the
 * purpose has fewer than `maxRunning` jobs starting or running and the job's user fewer than
 * `maxRunningPerUser`. A pool-run job gets its own instance through the pool's claim (a warm
 * spare or a new launch, never an instance someone uses interactively); when the pool is full
 * it stays queued and shows its place.
 */
import { SERVING_STATES } from "../../contract";
import type { PurposeConfig } from "../config/schema";
import { isPoolError } from "../errors";
import { claimInstance } from "../pool/claims";
import { configuredPurpose } from "../pool/context";
import { releaseInstance } from "../pool/user-instances";
import { findServingByJob, listJobsInStates, type Job } from "../store/jobs";
import type { JobsContext } from "./context";
import { countByUser, fairOrder } from "./fair-order";
import { endJob } from "./watch";
import { jobTransition } from "./transitions";

/** Most jobs of a purpose starting or running at once. */
export function maxRunningOf(purpose: PurposeConfig, needsInstance: boolean): number {
  const cap = purpose.jobs.maxRunning ?? (needsInstance ? purpose.max : Number.POSITIVE_INFINITY);
  return needsInstance ? Math.min(cap, purpose.max) : cap;
}

type Placement = "placed" | "full" | "refused" | "gone";

async function place(ctx: JobsContext, job: Job, purpose: PurposeConfig, needsInstance: boolean): Promise<Placement> {
  if (!needsInstance) {
    const ok = await jobTransition(ctx, job, { from: "queued", to: "starting", patch: { placedAt: ctx.clock.now() }, event: { actor: "jobs", reason: "runner" } });
    return ok ? "placed" : "gone";
  }
  // A claim a crash left unrecorded is taken up again, not claimed twice.
  let inst = await findServingByJob(ctx.db, job.id, SERVING_STATES);
  if (!inst) {
    try {
      inst = (await claimInstance(ctx, job.ownerId, purpose, `job:${job.id}`, { jobId: job.id })).instance;
    } catch (err) {
      if (!isPoolError(err)) throw err;
      if (err.code === "POOL_EXHAUSTED") return "full";
      if (err.code === "BUDGET_EXCEEDED") {
        await endJob(ctx, job, "failed", `budget exhausted before it started: ${err.message}`.slice(0, 500), "jobs");
        return "refused";
      }
      throw err;
    }
    ctx.kickLifecycle();
  }
  const ok = await jobTransition(ctx, job, {
    from: "queued",
    to: "starting",
    patch: { instanceId: inst.id, placedAt: ctx.clock.now() },
    event: { actor: "jobs", reason: inst.state === "running" ? "warm" : "launch", instanceId: inst.id },
    log: { msg: "job placed", fields: { instanceId: inst.id } },
  });
  if (!ok) {
    // Cancelled meanwhile: give the instance back.
    await releaseInstance(ctx, inst, "job-ended", `job:${job.id}`);
    ctx.kickLifecycle();
    return "gone";
  }
  return "placed";
}

/** Starts what fits; returns how many jobs were placed. */
export async function startQueued(ctx: JobsContext): Promise<number> {
  const queued = await listJobsInStates(ctx.db, ["queued"]);
  if (queued.length === 0) return 0;
  const active = await listJobsInStates(ctx.db, ["starting", "running"]);
  let placed = 0;
  const purposes = [...new Set(queued.map((j) => j.purpose))];
  for (const name of purposes) {
    const purpose = configuredPurpose(ctx, name);
    const mine = queued.filter((j) => j.purpose === name);
    if (!purpose) {
      for (const j of mine) await endJob(ctx, j, "failed", "its purpose was removed from the configuration", "jobs");
      continue;
    }
    let needsInstance: boolean;
    try {
      needsInstance = ctx.runners.forPurpose(purpose).needsInstance;
    } catch (err) {
      ctx.log.error({ event: "job-runner-missing", purpose: name, err: (err as Error).message }, "no job runner for the purpose; its jobs wait");
      continue;
    }
    const runningHere = active.filter((j) => j.purpose === name);
    const byUser = countByUser(runningHere);
    let running = runningHere.length;
    const max = maxRunningOf(purpose, needsInstance);
    for (const job of fairOrder(mine, byUser)) {
      if (running >= max) break;
      if ((byUser.get(job.ownerId) ?? 0) >= purpose.jobs.maxRunningPerUser) continue;
      let outcome: Placement;
      try {
        outcome = await place(ctx, job, purpose, needsInstance);
      } catch (err) {
        // Unknown trouble (the provider, the database): this purpose waits for the next round.
        ctx.log.error({ event: "job-place-failed", jobId: job.id, purpose: name, err: (err as Error).message }, "could not place a job; it stays queued");
        break;
      }
      if (outcome === "full") break;
      if (outcome !== "placed") continue;
      placed++;
      running++;
      byUser.set(job.ownerId, (byUser.get(job.ownerId) ?? 0) + 1);
    }
  }
  return placed;
}

/** Each queued job's place (1 = next) in its purpose's start order, as the scheduler would take them now. */
export async function queuePositions(ctx: JobsContext): Promise<Map<string, number>> {
  const queued = await listJobsInStates(ctx.db, ["queued"]);
  const out = new Map<string, number>();
  if (queued.length === 0) return out;
  const active = await listJobsInStates(ctx.db, ["starting", "running"]);
  for (const name of new Set(queued.map((j) => j.purpose))) {
    const order = fairOrder(queued.filter((j) => j.purpose === name), countByUser(active.filter((j) => j.purpose === name)));
    order.forEach((j, i) => out.set(j.id, i + 1));
  }
  return out;
}
