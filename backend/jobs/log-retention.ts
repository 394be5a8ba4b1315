/**
 * How long a job's local log is kept: the one owner of the rule the sweep (log-sweep.ts) and
 * the log route (service.ts) both apply, so a log is never answered as there by one and gone
 * by the other. Per purpose: `jobs.logRetentionDays` (backend/config/jobs.ts), 0 = forever.
 *
 * A directory with no job row (a database restored from before the job, or a copied data dir)
 * is removed once its newest file is older than the longest retention configured: nothing
 * reaches it through the API (its job id answers JOB_NOT_FOUND), so keeping it forever would
 * only fill the disk, and the newest mtime keeps a directory a process still writes to. A name
 * that is not a job id is not ours and is left alone.
 */
import { isJobFinal, type JobState } from "../../contract/jobs";
import type { LogDir } from "./runner";
import { JOB_ID_PATTERN } from "./transitions";

export const DAY_MS = 86_400_000;

/** The retention in ms; null keeps forever. */
export function retentionMs(days: number): number | null {
  return days > 0 ? days * DAY_MS : null;
}

/**
 * The retention of a log whose purpose is unknown (no job row, or a purpose since removed):
 * the longest configured, forever if any purpose keeps forever, so the sweep never removes a
 * log sooner than some purpose promises.
 */
export function fallbackRetentionDays(purposes: ReadonlyArray<{ jobs: { logRetentionDays: number } }>, defaultDays: number): number {
  if (purposes.length === 0) return defaultDays;
  if (purposes.some((p) => p.jobs.logRetentionDays === 0)) return 0;
  return Math.max(...purposes.map((p) => p.jobs.logRetentionDays));
}

export interface JobEnd {
  state: JobState;
  endedAt: number | null;
  /** Null while the job's process or instance may still need stopping (watch.ts finalizeJob). */
  finalizedAt: number | null;
}

/** Whether a job's log is past its retention: only a job that ended (and was finalized) longer ago than that. */
export function logExpired(job: JobEnd, retentionDays: number, now: number): boolean {
  const keep = retentionMs(retentionDays);
  return keep !== null && isJobFinal(job.state) && job.finalizedAt !== null && job.endedAt !== null && now - job.endedAt > keep;
}

/**
 * Whether the sweep removes a directory. `job` is its row (null: none), `retentionDays` the
 * retention of its purpose (the fallback when the row or the purpose is gone).
 */
export function shouldSweep(dir: LogDir, job: JobEnd | null, retentionDays: number, now: number): boolean {
  if (!JOB_ID_PATTERN.test(dir.name)) return false;
  if (job) return logExpired(job, retentionDays, now);
  const keep = retentionMs(retentionDays);
  return keep !== null && now - dir.newestMtimeMs > keep;
}
