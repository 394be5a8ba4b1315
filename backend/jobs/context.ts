/** What the jobs modules are given: the pool's context, the runners, and a way to wake the lifecycle loop. */
import type { PurposeConfig } from "../config/schema";
import type { PoolContext } from "../pool/context";
import type { Job } from "../store/jobs";
import type { JobRunners } from "./runners";
import type { JobSpec, JobTarget } from "./runner";
import type { Instance } from "../store/instances";

export interface JobsContext extends PoolContext {
  runners: JobRunners;
  /** Asks the lifecycle loop for a tick (a claim for a job launched an instance; a release needs terminating). */
  kickLifecycle(): void;
}

export function specOf(job: Job, purpose: Pick<PurposeConfig, "jobs">): JobSpec {
  return {
    jobId: job.id,
    userId: job.ownerId,
    purpose: job.purpose,
    script: job.spec.script,
    scriptName: job.scriptName ?? "job.R",
    command: job.spec.command,
    args: job.spec.args,
    env: job.spec.env,
    files: job.spec.files,
    maxRuntimeSeconds: purpose.jobs.maxRuntimeSeconds,
  };
}

export function targetOf(inst: Pick<Instance, "id" | "providerId">): JobTarget {
  return { instanceId: inst.id, providerId: inst.providerId };
}
