/**
 * The status-bar item of keep-alive holds ("keep this instance until this R process ends, at
 * most N hours") as plain data: the cap and the cost so far, and what to say when a hold ends.
 */
import type { KeepAliveView } from "../../../contract/jobs";
import { formatDuration, formatMoney } from "../format";

export interface HoldIndicatorView {
  text: string;
  tooltip: string;
}

/** Null when no hold is active (the item is hidden). */
export function holdIndicator(holds: readonly KeepAliveView[], now: number): HoldIndicatorView | null {
  const active = holds.filter((h) => h.endedReason === null);
  if (active.length === 0) return null;
  const lines = active.map(
    (h) => `• ${h.instanceId}: kept while R process ${h.pid} runs, at most until ${h.until.replace("T", " ").slice(0, 16)} UTC (${formatDuration(Date.parse(h.until) - now)} left); cost so far ${formatMoney(h.costSoFar, h.currency)}`,
  );
  const tooltip = ["RStudio Pool: keep-alive until a job ends", ...lines, "The idle reaper leaves these instances alone until then. Click to end a hold."].join("\n");
  if (active.length === 1) {
    const h = active[0]!;
    return { text: `$(pin) pid ${h.pid} · cap ${formatDuration(Date.parse(h.until) - now)} · ${formatMoney(h.costSoFar, h.currency)}`, tooltip };
  }
  const cost = active.reduce((s, h) => s + h.costSoFar, 0);
  return { text: `$(pin) ${active.length} holds · ${formatMoney(cost, active[0]!.currency)}`, tooltip };
}

/** What the user is told when a hold ends without them ending it. */
export function holdEndedMessage(h: KeepAliveView, purpose?: string): string {
  const what = `The keep-alive of ${purpose ? `${purpose} (${h.instanceId})` : h.instanceId}`;
  const cost = `cost while held: ${formatMoney(h.costSoFar, h.currency)}`;
  switch (h.endedReason) {
    case "process-ended":
      return `${what} ended: R process ${h.pid} has finished (${cost}). The idle timeout applies again; release the instance if you are done.`;
    case "cap":
      return `${what} reached its cap at ${h.until.replace("T", " ").slice(0, 16)} UTC while R process ${h.pid} still ran (${cost}). The idle timeout applies again: keep using it or set a new hold.`;
    default:
      return `${what} ended${h.endedReason ? ` (${h.endedReason})` : ""} (${cost}). The idle timeout applies again.`;
  }
}
