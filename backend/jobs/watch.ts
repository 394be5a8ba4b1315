/**
 * Watching the jobs that hold capacity, level-based: each round reads every starting and
 * running job and its instance, and moves it on. A starting job whose instance is running is
 * handed to its runner; a running job's process is asked how it is; a job past its maximum
 * runtime is cancelled; a job whose instance is gone fails. While a job holds its instance, the
 * instance's idle deadline is kept ahead, so the idle reaper (and its busy check) leave it be.
 * An ended job is finalized once: its process stopped, its instance released (`job-ended`),
 * its cost stored and its spec (which may hold secrets in its env) emptied.
 */
import { isServing, SERVING_STATES } from "../../contract";
import { isJobFinal, JOB_FINAL_STATES, type JobState } from "../../contract/jobs";
import { configuredPurpose } from "../pool/context";
import { releaseInstance } from "../pool/user-instances";
import { getInstance, updateInstance, type Instance } from "../store/instances";
import { getJob, listJobsInStates, listUnfinalizedEnded, updateJob, type Job } from "../store/jobs";
import { specOf, targetOf, type JobsContext } from "./context";
import { jobCost } from "./costs";
import { jobTransition } from "./transitions";

const EMPTY_SPEC = { script: null, command: null, args: [], env: {}, files: [] };

/** Ends a job (from whichever active state it is in) with its reason; false if it had moved on already. */
export async function endJob(ctx: JobsContext, job: Job, to: Extract<JobState, "succeeded" | "failed" | "cancelled">, reason: string, actor: string, extra: { exitCode?: number | null; endedAt?: number } = {}): Promise<boolean> {
  const from: JobState[] = to === "succeeded" ? ["running"] : ["queued", "starting", "running"];
  const endedAt = extra.endedAt ?? ctx.clock.now();
  return jobTransition(ctx, job, {
    from,
    to,
    patch: { stateReason: reason, exitCode: extra.exitCode ?? null, endedAt },
    event: { reason, actor, instanceId: job.instanceId, details: extra.exitCode !== undefined && extra.exitCode !== null ? { exitCode: extra.exitCode } : undefined },
    log: { level: to === "failed" ? "warn" : "info", msg: `job ${to}`, fields: { reason, exitCode: extra.exitCode ?? null, instanceId: job.instanceId } },
  });
}

async function holdInstance(ctx: JobsContext, job: Job, inst: Instance): Promise<void> {
  const purpose = configuredPurpose(ctx, inst.purpose);
  if (!purpose) return;
  const now = ctx.clock.now();
  const idleMs = await ctx.policies.idleTimeoutMs(job.ownerId, purpose, now);
  // Kept at least half an idle timeout ahead; one write every half timeout, not every round.
  if (inst.idleDeadline !== null && inst.idleDeadline - now > idleMs / 2) return;
  await updateInstance(ctx.db, inst.id, { idleDeadline: now + idleMs, updatedAt: now }, { states: SERVING_STATES, ownerId: job.ownerId });
}

/** The job's instance while it still serves the job; else the job fails (its instance ended `when`) and null. */
async function jobInstanceOrEnd(ctx: JobsContext, job: Job, when: string): Promise<Instance | null> {
  const inst = job.instanceId ? await getInstance(ctx.db, job.instanceId) : null;
  if (inst && isServing(inst.state) && inst.jobId === job.id) return inst;
  await endJob(ctx, job, "failed", `its instance ended ${when}${inst?.stateReason ? ` (${inst.stateReason})` : ""}`, "jobs");
  return null;
}

async function advanceStarting(ctx: JobsContext, job: Job): Promise<void> {
  const purpose = configuredPurpose(ctx, job.purpose);
  if (!purpose) {
    await endJob(ctx, job, "failed", "its purpose was removed from the configuration", "jobs");
    return;
  }
  const runner = ctx.runners.forPurpose(purpose);
  let target = null;
  if (runner.needsInstance) {
    const inst = await jobInstanceOrEnd(ctx, job, "before the job started");
    if (!inst) return;
    await holdInstance(ctx, job, inst);
    if (inst.state !== "running" || inst.handedOverTo !== inst.ownerId) return; // still booting, or its home is not there yet
    target = targetOf(inst);
  }
  const now = ctx.clock.now();
  let ref: string;
  try {
    ref = await runner.start(specOf(job, purpose), target);
  } catch (err) {
    await endJob(ctx, job, "failed", `the runner could not start it: ${(err as Error).message}`.slice(0, 500), "jobs");
    return;
  }
  const started = await jobTransition(ctx, job, {
    from: "starting",
    to: "running",
    patch: { runRef: ref, startedAt: now, deadlineAt: now + purpose.jobs.maxRuntimeSeconds * 1000 },
    event: { actor: "jobs", reason: runner.kind, instanceId: job.instanceId },
    log: { msg: "job running", fields: { instanceId: job.instanceId, runner: runner.kind } },
  });
  // Cancelled while it was being started: stop what was just started (finalize does too).
  if (!started) await runner.cancel(specOf(job, purpose), ref, target).catch(() => undefined);
}

async function watchRunning(ctx: JobsContext, job: Job): Promise<void> {
  const purpose = configuredPurpose(ctx, job.purpose);
  if (!purpose) {
    await endJob(ctx, job, "cancelled", "its purpose was removed from the configuration", "jobs");
    return;
  }
  const runner = ctx.runners.forPurpose(purpose);
  let target = null;
  if (runner.needsInstance) {
    const inst = await jobInstanceOrEnd(ctx, job, "while it ran");
    if (!inst) return;
    await holdInstance(ctx, job, inst);
    target = targetOf(inst);
  }
  const st = await runner.status(specOf(job, purpose), job.runRef!, target);
  if (st.status === "exited") {
    const ok = st.exitCode === 0;
    await endJob(ctx, job, ok ? "succeeded" : "failed", `exit ${st.exitCode}`, "jobs", { exitCode: st.exitCode, endedAt: Math.min(st.endedAt ?? ctx.clock.now(), ctx.clock.now()) });
    return;
  }
  if (st.status === "lost") {
    await endJob(ctx, job, "failed", st.reason, "jobs");
    return;
  }
  if (job.deadlineAt !== null && ctx.clock.now() >= job.deadlineAt) {
    await endJob(ctx, job, "cancelled", `max runtime ${purpose.jobs.maxRuntimeSeconds} s`, "jobs");
  }
}

/**
 * Stops an ended job's process (unless it exited by itself) and releases its instance, then
 * stores its cost. Safe to repeat: each part checks first, and the row is marked only at the end.
 */
export async function finalizeJob(ctx: JobsContext, job: Job): Promise<void> {
  if (!isJobFinal(job.state) || job.finalizedAt !== null) return;
  const purpose = configuredPurpose(ctx, job.purpose);
  const inst = job.instanceId ? await getInstance(ctx.db, job.instanceId) : null;
  if (purpose && job.runRef && job.exitCode === null) {
    const runner = ctx.runners.forPurpose(purpose);
    await runner.cancel(specOf(job, purpose), job.runRef, inst ? targetOf(inst) : null);
  }
  const now = ctx.clock.now();
  const cost = await jobCost(ctx, job, now);
  if (inst && inst.jobId === job.id && isServing(inst.state)) {
    await releaseInstance(ctx, inst, "job-ended", `job:${job.id}`);
    ctx.kickLifecycle();
  }
  await updateJob(ctx.db, job.id, { finalizedAt: now, cost, spec: EMPTY_SPEC, updatedAt: now }, JOB_FINAL_STATES);
}

/** One pass over every job that holds capacity, then the ended ones left to finalize. */
export async function watchJobs(ctx: JobsContext): Promise<void> {
  for (const job of await listJobsInStates(ctx.db, ["starting", "running"])) {
    try {
      if (job.state === "starting") await advanceStarting(ctx, job);
      else await watchRunning(ctx, job);
    } catch (err) {
      ctx.log.error({ event: "job-watch-failed", jobId: job.id, err: (err as Error).message }, "watching a job failed; retrying next round");
    }
  }
  for (const job of await listUnfinalizedEnded(ctx.db, JOB_FINAL_STATES)) {
    try {
      await finalizeJob(ctx, (await getJob(ctx.db, job.id)) ?? job);
    } catch (err) {
      ctx.log.error({ event: "job-finalize-failed", jobId: job.id, err: (err as Error).message }, "finalizing a job failed; retrying next round");
    }
  }
}
