/**
 * Batch R jobs (issue #18): the states a job passes through and the /v1/jobs wire shapes.
 * Types and constants only, shared by the backend, the CLI and the extension.
 */

/** Every state of a job. `queued` waits for room (its place is shown); the last three are final. */
export const JOB_STATES = ["queued", "starting", "running", "succeeded", "failed", "cancelled"] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States in which a job holds (or waits for) capacity: counted by the per-user and per-purpose limits. */
export const JOB_ACTIVE_STATES = ["queued", "starting", "running"] as const satisfies readonly JobState[];
/** States a job never leaves. */
export const JOB_FINAL_STATES = ["succeeded", "failed", "cancelled"] as const satisfies readonly JobState[];

export function isJobFinal(state: JobState): boolean {
  return (JOB_FINAL_STATES as readonly JobState[]).includes(state);
}

/** Where a purpose runs its jobs: on pool instances (the default) or as ECS tasks. */
export const JOB_RUNNERS = ["pool", "ecs"] as const;
export type JobRunnerKind = (typeof JOB_RUNNERS)[number];

/** A file written into the job's working directory before it starts (base64, so any bytes travel). */
export interface JobFile {
  path: string;
  contentBase64: string;
}

/** POST /v1/jobs. Exactly one of `script` (the R source, run with Rscript) or `command` (argv, first item the program). */
export interface JobRequest {
  purpose?: string;
  script?: string;
  /** The script's file name, shown in lists and used as its file name on the instance (default job.R). */
  scriptName?: string;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  files?: JobFile[];
}

export interface JobView {
  jobId: string;
  purpose: string;
  ownerId: string;
  runner: JobRunnerKind;
  state: JobState;
  /** Why it is in its state: "exit 3", "cancelled by user", "max runtime 7200 s", "budget", … */
  stateReason: string | null;
  scriptName: string | null;
  /** Position among the jobs waiting for room (1 = next), while queued; else null. */
  queuePosition: number | null;
  /** The pool instance running it (runner "pool"), once placed. */
  instanceId: string | null;
  exitCode: number | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /** When it is cancelled if still running (the purpose's maximum runtime). */
  deadlineAt: string | null;
  /** Cost so far (final once ended), in `currency`. */
  cost: number;
  currency: string;
}

export interface JobListResponse {
  jobs: JobView[];
}

/** GET /v1/jobs/:id/log?offset=N (without follow): the log's bytes from `offset`, as UTF-8 text. */
export interface JobLogChunk {
  jobId: string;
  offset: number;
  nextOffset: number;
  text: string;
  /** True once the job has ended and every byte of its log is in. */
  complete: boolean;
}

/** POST /v1/instances/:id/keep-alive: keep the instance until this process ends, at most `maxHours`. */
export interface KeepAliveRequest {
  /** The process on the instance (its pid there). */
  pid: number;
  maxHours: number;
}

export interface KeepAliveView {
  instanceId: string;
  pid: number;
  /** The cap: the hold ends then even if the process still runs. */
  until: string;
  /** Null while the process runs; then why the hold ended: "process-ended", "cap", "cancelled". */
  endedReason: string | null;
  /** Cost of the instance since the hold began, in `currency`. */
  costSoFar: number;
  currency: string;
}
