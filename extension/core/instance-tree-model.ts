/**
 * What the tree of "my instances" shows, as plain data: one row per instance with its detail
 * lines (purpose, type, state, uptime, time left before the idle reaper, price per hour). The
 * VS Code tree provider only draws these rows.
 */
import { isServing, type InstanceState, type InstanceView } from "../../contract";
import { formatDuration, formatMoney } from "./format";

/** contextValue of a row; package.json's menus match on these. */
export type InstanceContext = "instance.running" | "instance.pending" | "instance.ended";
export type RowIcon = "running" | "pending" | "ended" | "problem";

export interface DetailLine {
  label: string;
  value: string;
}

export interface InstanceRow {
  instanceId: string;
  label: string;
  description: string;
  tooltip: string;
  contextValue: InstanceContext;
  icon: RowIcon;
  details: DetailLine[];
}

const PENDING: InstanceState[] = ["launching", "booting"];
const PROBLEMS: InstanceState[] = ["interrupting", "lost", "interrupted", "failed"];

export function isPending(i: Pick<InstanceView, "state">): boolean {
  return PENDING.includes(i.state);
}
/** Over for its user: released (still terminating) or gone. See contract/states.ts on `releasing`. */
export function isEnded(i: Pick<InstanceView, "state">): boolean {
  return !isServing(i.state);
}

const STATE_TEXT: Record<InstanceState, string> = {
  launching: "launching",
  booting: "booting",
  running: "running",
  releasing: "released",
  interrupting: "being reclaimed by AWS, a new host is starting",
  terminated: "terminated",
  lost: "lost",
  interrupted: "interrupted",
  failed: "failed",
};

function stateText(i: InstanceView): string {
  const base = STATE_TEXT[i.state];
  return i.stateReason && i.state !== "running" ? `${base} (${i.stateReason})` : base;
}

/** Rows ordered: running first, then starting, then ended; newest first within each. */
export function instanceRows(instances: readonly InstanceView[], now: number): InstanceRow[] {
  const rank = (i: InstanceView) => (i.state === "running" ? 0 : isPending(i) ? 1 : 2);
  return [...instances]
    .sort((a, b) => rank(a) - rank(b) || Date.parse(b.launchedAt) - Date.parse(a.launchedAt))
    .map((i) => instanceRow(i, now));
}

export function instanceRow(i: InstanceView, now: number): InstanceRow {
  const details: DetailLine[] = [
    { label: "Purpose", value: i.purpose },
    { label: "Type", value: [i.instanceType ?? "unknown", i.market].filter(Boolean).join(" · ") },
    { label: "State", value: stateText(i) },
  ];
  const startedAt = i.runningAt ?? i.launchedAt;
  const live = !isEnded(i);
  if (live) details.push({ label: "Uptime", value: formatDuration(now - Date.parse(startedAt)) });
  const idleLeft = live && i.idleDeadline ? Date.parse(i.idleDeadline) - now : null;
  if (idleLeft !== null) details.push({ label: "Idle reap in", value: formatDuration(idleLeft) });
  const price = i.hourlyPrice === null ? null : `${formatMoney(i.hourlyPrice, i.currency)}/h`;
  details.push({ label: "Price", value: price ?? "unknown" });
  details.push({ label: "Instance ID", value: i.instanceId });

  const description = [
    stateText(i),
    i.instanceType,
    live && i.state === "running" ? `up ${formatDuration(now - Date.parse(startedAt))}` : null,
    idleLeft !== null ? `idle reap in ${formatDuration(idleLeft)}` : null,
    price,
  ]
    .filter(Boolean)
    .join(" · ");

  return {
    instanceId: i.instanceId,
    label: i.purpose,
    description,
    tooltip: details.map((d) => `${d.label}: ${d.value}`).join("\n"),
    contextValue: i.state === "running" ? "instance.running" : isPending(i) ? "instance.pending" : "instance.ended",
    icon: i.state === "running" ? "running" : isPending(i) ? "pending" : PROBLEMS.includes(i.state) ? "problem" : "ended",
    details,
  };
}
