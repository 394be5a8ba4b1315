/**
 * The sweep of old local job logs: from the jobs loop, at startup (its first round) and then at
 * most once an hour on the pool's clock, since a log expires in days and a directory listing
 * each second would be wasted work. Which directory goes is log-retention.ts's rule, decided
 * from the job's row in the database (never from the files alone, except for a directory whose
 * row is gone); the row itself stays (history and cost). Removal is by directory and
 * idempotent, so a restart in the middle of a sweep leaves directories the next sweep removes.
 */
import { configuredPurpose } from "../pool/context";
import { getJob } from "../store/jobs";
import { DEFAULT_JOBS } from "../config/jobs";
import type { JobsContext } from "./context";
import { fallbackRetentionDays, shouldSweep } from "./log-retention";

/** Least time between two sweeps. */
export const SWEEP_EVERY_MS = 3600_000;

export interface SweepResult {
  removed: number;
  bytes: number;
  kept: number;
}

/** One sweep now; null when this backend keeps no logs on its disk. */
export async function sweepJobLogs(ctx: JobsContext): Promise<SweepResult | null> {
  const store = ctx.runners.logStore?.() ?? null;
  if (!store) return null;
  const now = ctx.clock.now();
  const fallback = fallbackRetentionDays(ctx.config.purposes, DEFAULT_JOBS.logRetentionDays);
  const result: SweepResult = { removed: 0, bytes: 0, kept: 0 };
  for (const dir of await store.listLogDirs()) {
    const job = await getJob(ctx.db, dir.name).catch(() => null);
    const days = (job && configuredPurpose(ctx, job.purpose)?.jobs.logRetentionDays) ?? fallback;
    if (!shouldSweep(dir, job, days, now)) {
      result.kept++;
      continue;
    }
    await store.removeLogDir(dir.name);
    result.removed++;
    result.bytes += dir.bytes;
  }
  // One line per sweep that removed something, not one per file.
  if (result.removed > 0) ctx.log.info({ event: "job-logs-swept", ...result }, `removed ${result.removed} old job log(s), ${result.bytes} bytes`);
  return result;
}

/** Runs the sweep from the loop's rounds, at most once per SWEEP_EVERY_MS. */
export class LogSweeper {
  private lastAt: number | null = null;

  constructor(private readonly ctx: JobsContext) {}

  async maybeSweep(): Promise<SweepResult | null> {
    const now = this.ctx.clock.now();
    if (this.lastAt !== null && now - this.lastAt < SWEEP_EVERY_MS) return null;
    this.lastAt = now;
    try {
      return await sweepJobLogs(this.ctx);
    } catch (err) {
      // A failed sweep (a full disk, permissions) must not stop the jobs round; the next hour retries.
      this.ctx.log.warn({ event: "job-logs-sweep-failed", err: (err as Error).message }, "sweeping old job logs failed; retrying in an hour");
      return null;
    }
  }
}
