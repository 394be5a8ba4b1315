/**
 * What a user does with their jobs (the /v1/jobs routes, through the pool's facade): submit,
 * list, read one, read its log, cancel. Another user's job answers exactly like one that does
 * not exist (JOB_NOT_FOUND).
 */
import type { JobLogChunk, JobView } from "../../contract/jobs";
import { isJobFinal } from "../../contract/jobs";
import { PoolError } from "../errors";
import { configuredPurpose } from "../pool/context";
import { getInstance } from "../store/instances";
import { getJob, getJobForUser, listJobsForUser, type Job } from "../store/jobs";
import { specOf, targetOf, type JobsContext } from "./context";
import { jobCost } from "./costs";
import { logExpired } from "./log-retention";
import { isLocalLogStore } from "./runners";
import { queuePositions } from "./schedule";
import { submitJob, type JobRequestBody } from "./submit";
import { JOB_ID_PATTERN } from "./transitions";
import { endJob, finalizeJob } from "./watch";

/** Ended jobs stay in the list this long. */
const ENDED_LISTED_MS = 7 * 24 * 3600_000;

function notFound(id: string): PoolError {
  return new PoolError("JOB_NOT_FOUND", `No job "${id.slice(0, 80)}" belongs to you. List your jobs with GET /v1/jobs.`);
}

async function ownedJob(ctx: JobsContext, userId: string, id: string): Promise<Job> {
  if (!JOB_ID_PATTERN.test(id)) throw notFound(id);
  const job = await getJobForUser(ctx.db, userId, id);
  if (!job) throw notFound(id);
  return job;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function jobView(ctx: JobsContext, job: Job, positions?: Map<string, number>): Promise<JobView> {
  const now = ctx.clock.now();
  let queuePosition: number | null = null;
  if (job.state === "queued") queuePosition = (positions ?? (await queuePositions(ctx))).get(job.id) ?? null;
  return {
    jobId: job.id,
    purpose: job.purpose,
    ownerId: job.ownerId,
    runner: job.runner,
    state: job.state,
    stateReason: job.stateReason,
    scriptName: job.scriptName,
    queuePosition,
    instanceId: job.instanceId,
    exitCode: job.exitCode,
    createdAt: new Date(job.createdAt).toISOString(),
    startedAt: iso(job.startedAt),
    endedAt: iso(job.endedAt),
    deadlineAt: iso(job.deadlineAt),
    cost: await jobCost(ctx, job, now),
    currency: ctx.config.currency,
  };
}

export async function submit(ctx: JobsContext, userId: string, req: JobRequestBody): Promise<JobView> {
  const job = await submitJob(ctx, ctx.runners, userId, req);
  return jobView(ctx, job);
}

export async function listJobs(ctx: JobsContext, userId: string): Promise<JobView[]> {
  const jobs = await listJobsForUser(ctx.db, userId, ctx.clock.now() - ENDED_LISTED_MS);
  const positions = jobs.some((j) => j.state === "queued") ? await queuePositions(ctx) : new Map<string, number>();
  return Promise.all(jobs.map((j) => jobView(ctx, j, positions)));
}

export async function getJobView(ctx: JobsContext, userId: string, id: string): Promise<JobView> {
  return jobView(ctx, await ownedJob(ctx, userId, id));
}

export async function readJobLog(ctx: JobsContext, userId: string, id: string, offset: number): Promise<JobLogChunk> {
  const job = await ownedJob(ctx, userId, id);
  const final = isJobFinal(job.state);
  const purpose = configuredPurpose(ctx, job.purpose);
  if (!job.runRef || !purpose) return { jobId: id, offset, nextOffset: offset, text: "", complete: final };
  const runner = ctx.runners.forPurpose(purpose);
  // A log on this disk is gone once past its retention, even before the hourly sweep, or when its directory is (removed by hand, or retention raised after a sweep).
  if (final && isLocalLogStore(runner) && (logExpired(job, purpose.jobs.logRetentionDays, ctx.clock.now()) || !runner.hasLogDir(id))) {
    const days = purpose.jobs.logRetentionDays;
    const why = days > 0 ? `purpose "${purpose.name}" keeps job logs ${days} day${days === 1 ? "" : "s"} after a job ends` : "its log files are gone from the backend";
    throw new PoolError("JOB_LOG_EXPIRED", `The log of job "${id}" was removed (${why}). Its state, exit code and cost are still at GET /v1/jobs/${id}.`);
  }
  const inst = job.instanceId ? await getInstance(ctx.db, job.instanceId) : null;
  const chunk = await runner.readLog(specOf(job, purpose), job.runRef, inst ? targetOf(inst) : null, offset);
  // Complete only once the job is over in the database too (a restart may not have seen its exit yet).
  return { jobId: id, offset, nextOffset: chunk.nextOffset, text: chunk.text, complete: final && chunk.complete };
}

export async function cancelJob(ctx: JobsContext, userId: string, id: string): Promise<JobView> {
  const job = await ownedJob(ctx, userId, id);
  if (isJobFinal(job.state)) throw new PoolError("JOB_ENDED", `Job "${id}" has already ${job.state === "succeeded" ? "succeeded" : job.state === "failed" ? "failed" : "been cancelled"}; nothing to cancel.`);
  if (!(await endJob(ctx, job, "cancelled", "cancelled by user", `user:${userId}`))) {
    const now = await getJob(ctx.db, id);
    if (now && isJobFinal(now.state)) throw new PoolError("JOB_ENDED", `Job "${id}" ended meanwhile (${now.state}); nothing to cancel.`);
    throw new PoolError("CONFLICT", `Job "${id}" changed meanwhile; try again.`);
  }
  // Stop the process and give the instance back now, not on the next round (the loop would).
  const ended = (await getJob(ctx.db, id))!;
  await finalizeJob(ctx, ended).catch((err: unknown) =>
    ctx.log.warn({ event: "job-finalize-deferred", jobId: id, err: (err as Error).message }, "cancelled; the jobs loop finishes stopping it"),
  );
  return jobView(ctx, (await getJob(ctx.db, id)) ?? ended);
}
