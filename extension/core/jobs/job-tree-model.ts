/**
 * The Jobs node of the sidebar tree as plain data: its summary ("1 running · 2 ended") and one
 * row per job (label = script name, description = state · duration · cost, detail lines), the
 * active jobs first and then the most recent ended ones. The tree provider only draws these.
 */
import { isJobFinal, type JobState, type JobView } from "../../../contract/jobs";
import { formatDuration, formatMoney } from "../format";

export type JobContext = "job.active" | "job.ended";
export type JobIcon = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface JobDetail {
  label: string;
  value: string;
}

export interface JobRow {
  jobId: string;
  label: string;
  description: string;
  tooltip: string;
  contextValue: JobContext;
  icon: JobIcon;
  details: JobDetail[];
}

/** Ended jobs shown under the node (the CLI's `job ls` shows them all). */
export const ENDED_SHOWN = 10;

export function isJobActive(j: Pick<JobView, "state">): boolean {
  return !isJobFinal(j.state);
}

export function jobStateText(j: JobView): string {
  switch (j.state) {
    case "queued":
      return j.queuePosition !== null ? `queued (#${j.queuePosition} in line)` : "queued";
    case "starting":
      return "starting";
    case "running":
      return "running";
    case "succeeded":
      return j.exitCode !== null ? `succeeded (exit ${j.exitCode})` : "succeeded";
    case "failed":
      return j.exitCode !== null ? `failed (exit ${j.exitCode})` : `failed${j.stateReason ? ` (${j.stateReason})` : ""}`;
    case "cancelled":
      return `cancelled${j.stateReason ? ` (${j.stateReason})` : ""}`;
  }
}

/** How long it has run (or ran); null before it starts. */
export function jobRunMs(j: JobView, now: number): number | null {
  if (!j.startedAt) return null;
  return (j.endedAt ? Date.parse(j.endedAt) : now) - Date.parse(j.startedAt);
}

const ICON: Record<JobState, JobIcon> = { queued: "queued", starting: "queued", running: "running", succeeded: "succeeded", failed: "failed", cancelled: "cancelled" };

export function jobRow(j: JobView, now: number): JobRow {
  const ran = jobRunMs(j, now);
  const cost = formatMoney(j.cost, j.currency);
  const details: JobDetail[] = [
    { label: "State", value: jobStateText(j) },
    { label: "Purpose", value: `${j.purpose}${j.runner === "ecs" ? " (ECS)" : ""}` },
  ];
  if (j.instanceId) details.push({ label: "Instance", value: j.instanceId });
  details.push({ label: "Submitted", value: j.createdAt.replace("T", " ").slice(0, 19) });
  if (ran !== null) details.push({ label: j.endedAt ? "Ran" : "Running for", value: formatDuration(ran) });
  if (j.deadlineAt && isJobActive(j)) details.push({ label: "Cancelled at", value: `${j.deadlineAt.replace("T", " ").slice(0, 16)} (max runtime)` });
  details.push({ label: j.endedAt ? "Cost" : "Cost so far", value: cost });
  details.push({ label: "Job ID", value: j.jobId });
  return {
    jobId: j.jobId,
    label: j.scriptName ?? j.jobId,
    description: [jobStateText(j), ran !== null ? formatDuration(ran) : null, cost].filter(Boolean).join(" · "),
    tooltip: details.map((d) => `${d.label}: ${d.value}`).join("\n"),
    contextValue: isJobActive(j) ? "job.active" : "job.ended",
    icon: ICON[j.state],
    details,
  };
}

const ACTIVE_RANK: Record<JobState, number> = { running: 0, starting: 1, queued: 2, succeeded: 3, failed: 3, cancelled: 3 };

/** Active jobs (running, starting, then queued in their order), then the newest ended ones. */
export function jobRows(jobs: readonly JobView[], now: number): JobRow[] {
  const active = jobs.filter(isJobActive).sort((a, b) => ACTIVE_RANK[a.state] - ACTIVE_RANK[b.state] || (a.queuePosition ?? 0) - (b.queuePosition ?? 0) || Date.parse(a.createdAt) - Date.parse(b.createdAt));
  const ended = jobs.filter((j) => !isJobActive(j)).sort((a, b) => Date.parse(b.endedAt ?? b.createdAt) - Date.parse(a.endedAt ?? a.createdAt)).slice(0, ENDED_SHOWN);
  return [...active, ...ended].map((j) => jobRow(j, now));
}

/** The Jobs node's description: "1 running · 1 queued · 3 ended". */
export function jobsSummary(jobs: readonly JobView[]): string {
  const count = (f: (j: JobView) => boolean) => jobs.filter(f).length;
  const parts = [
    [count((j) => j.state === "running" || j.state === "starting"), "running"],
    [count((j) => j.state === "queued"), "queued"],
    [count((j) => !isJobActive(j)), "ended"],
  ] as const;
  return parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`).join(" · ");
}
