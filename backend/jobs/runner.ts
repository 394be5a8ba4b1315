/**
 * What starts, watches and stops a job's process: the seam between the jobs queue (which owns
 * a job's state, limits, history and cost) and the places a job can run. Three runners
 * implement it: the local provider's (a detached Rscript on this machine, in the instance's
 * home), EC2's (SSM SendCommand on the job's instance) and ECS's (RunTask on a cluster the
 * purpose names). A runner holds no state of its own that a restart would lose: everything it
 * needs to find its process again is in `ref`, which the queue stores with the job.
 */
import type { JobFile } from "../../contract/jobs";

/** A job as a runner needs it. */
export interface JobSpec {
  jobId: string;
  userId: string;
  purpose: string;
  /** R source to run with Rscript, or null when `command` is given. */
  script: string | null;
  /** The script's file name in the working directory (e.g. model.R). */
  scriptName: string;
  /** argv to run instead of a script (first item the program). */
  command: string[] | null;
  args: string[];
  /** The job's own environment (a model configuration, say). Never the backend's. */
  env: Record<string, string>;
  files: JobFile[];
  maxRuntimeSeconds: number;
}

/** Where a pool runner runs it: the instance the queue placed it on. ECS runners get null. */
export interface JobTarget {
  instanceId: string;
  /** The provider's id of the instance (EC2 instance id; the local provider's own id). */
  providerId: string | null;
  /** The user's home there: the job's working directory. */
  homeDir?: string;
}

/** How a runner finds its process again (a pid, an SSM command id, an ECS task ARN), as a string to store. */
export type RunRef = string;

export type RunStatus =
  | { status: "starting" }
  | { status: "running" }
  | { status: "exited"; exitCode: number; endedAt?: number }
  /** The process is gone without an exit code (the instance vanished, the task was stopped by someone else). */
  | { status: "lost"; reason: string };

export interface LogChunk {
  /** The log's text from the requested offset (UTF-8). */
  text: string;
  /** Where the next read starts (an opaque position for runners whose logs are not a byte stream). */
  nextOffset: number;
  /** True when the process has ended and nothing more will come. */
  complete: boolean;
}

export interface JobRunner {
  readonly kind: "local" | "ec2-ssm" | "ecs";
  /** Whether the job needs a pool instance (true for local and EC2; false for ECS). */
  readonly needsInstance: boolean;
  start(job: JobSpec, target: JobTarget | null): Promise<RunRef>;
  status(job: JobSpec, ref: RunRef, target: JobTarget | null): Promise<RunStatus>;
  readLog(job: JobSpec, ref: RunRef, target: JobTarget | null, offset: number): Promise<LogChunk>;
  /** Stops the process; resolves once it is asked to stop (status then reports it exited or lost). */
  cancel(job: JobSpec, ref: RunRef, target: JobTarget | null): Promise<void>;
  /** The runner's own cost of the job so far (ECS: Fargate time); pool runners return null (the ledger bills the instance). */
  costSoFar?(job: JobSpec, ref: RunRef, startedAt: number, endedAt: number | null, now: number): number | null;
}

/**
 * A runner that keeps jobs' logs on the backend's own disk (the local runner), so the backend
 * must clean them up (log-retention.ts). Runners whose logs live elsewhere (CloudWatch) have
 * that store's own retention and do not implement this.
 */
export interface LocalLogStore {
  /** The job directories there now: name (a job id, or anything else found), bytes, newest mtime. */
  listLogDirs(): Promise<LogDir[]>;
  /** Whether the job's directory is still there. */
  hasLogDir(jobId: string): boolean;
  /** Removes the job's directory (no error when it is already gone). */
  removeLogDir(jobId: string): Promise<void>;
}

export interface LogDir {
  name: string;
  bytes: number;
  /** The newest mtime of the directory and its files (a writer still at work keeps it recent). */
  newestMtimeMs: number;
}

/** Whether a process on an instance still runs: the keep-alive hold's check ("keep until this R process ends"). */
export interface ProcessProbe {
  processAlive(target: JobTarget, pid: number): Promise<boolean>;
}
