/**
 * Turns successive job lists into the news worth a notification (a job this window saw active
 * has ended: succeeded, failed or cancelled, announced once), and the text of that notification
 * and of the line closing the job's log channel.
 */
import { isJobFinal, type JobView } from "../../../contract/jobs";
import { formatDuration, formatMoney } from "../format";
import { jobRunMs } from "./job-tree-model";

export class JobWatcher {
  private readonly known = new Map<string, JobView["state"]>();
  private readonly announced = new Set<string>();

  /** Jobs that ended since the last list; the first list only sets what is known. */
  update(jobs: readonly JobView[]): JobView[] {
    const ended: JobView[] = [];
    for (const j of jobs) {
      const before = this.known.get(j.jobId);
      this.known.set(j.jobId, j.state);
      if (before !== undefined && !isJobFinal(before) && isJobFinal(j.state) && !this.announced.has(j.jobId)) {
        this.announced.add(j.jobId);
        ended.push(j);
      }
    }
    return ended;
  }

  /** A job this window submitted: its end is news even if no list saw it active. */
  track(job: JobView): void {
    if (!this.known.has(job.jobId)) this.known.set(job.jobId, isJobFinal(job.state) ? "queued" : job.state);
  }

  /** Forget everything (signed out). */
  clear(): void {
    this.known.clear();
    this.announced.clear();
  }
}

export type NoticeLevel = "info" | "warning" | "error";

export interface JobNotice {
  level: NoticeLevel;
  message: string;
}

function name(j: JobView): string {
  return `${j.scriptName ?? j.jobId} (${j.purpose})`;
}

/** "Job model.R (big-memory) succeeded: exit code 0, ran 2m, cost $0.0123." */
export function jobEndedNotice(j: JobView): JobNotice {
  const ran = jobRunMs(j, Date.now());
  const tail = `${ran !== null ? `, ran ${formatDuration(ran)}` : ""}, cost ${formatMoney(j.cost, j.currency)}.`;
  if (j.state === "succeeded") return { level: "info", message: `Job ${name(j)} succeeded: exit code ${j.exitCode ?? 0}${tail}` };
  if (j.state === "cancelled") {
    const why = j.stateReason ? ` (${j.stateReason})` : "";
    return { level: "warning", message: `Job ${name(j)} was cancelled${why}${tail}` };
  }
  const how = j.exitCode !== null ? `exit code ${j.exitCode}` : (j.stateReason ?? "no exit code");
  const extra = j.exitCode !== null && j.stateReason && !/^exit \d+$/.test(j.stateReason) ? ` (${j.stateReason})` : "";
  return { level: "error", message: `Job ${name(j)} failed: ${how}${extra}${tail} See its log for the error.` };
}

/** The last line of the job's log channel. */
export function jobLogFooter(j: JobView): string {
  const ran = jobRunMs(j, Date.now());
  const exit = j.exitCode !== null ? `exit code ${j.exitCode}` : (j.stateReason ?? "no exit code");
  return `--- job ${j.jobId} ${j.state}: ${exit}${ran !== null ? `, ran ${formatDuration(ran)}` : ""}, cost ${formatMoney(j.cost, j.currency)} ---`;
}

/** The first line of the job's log channel. */
export function jobLogHeader(j: JobView): string {
  const where = j.state === "queued" && j.queuePosition !== null ? `queued, #${j.queuePosition} in line` : j.state;
  return `--- job ${j.jobId}: ${j.scriptName ?? "script"} on ${j.purpose} (${where}) ---`;
}
