/**
 * The status-bar cost indicator as plain data: "$(server) 1 · $0.42/h · $12.30 this month",
 * a tooltip listing each instance, and the colour: warning near the budget, error past it.
 * Also the cost details text shown when the indicator is clicked.
 */
import type { CostsResponse } from "../../contract";
import type { Failure } from "./errors";
import { formatMoney } from "./format";

export type IndicatorColour = "none" | "warning" | "error";

export interface CostIndicatorView {
  text: string;
  tooltip: string;
  colour: IndicatorColour;
}

export function costIndicator(costs: CostsResponse | null, failure: Failure | null = null): CostIndicatorView {
  if (!costs) {
    return {
      text: "$(server) RStudio Pool",
      tooltip: failure ? `RStudio Pool: ${failure.message}` : "RStudio Pool: costs not loaded yet. Click for cost details.",
      colour: "none",
    };
  }
  const m = (n: number) => formatMoney(n, costs.currency);
  const n = costs.instances.length;
  const lines = [`RStudio Pool: ${n} instance${n === 1 ? "" : "s"} running, ${m(costs.ratePerHour)}/h`];
  for (const i of costs.instances) lines.push(`• ${i.purpose} (${i.instanceId}): ${m(i.hourlyPrice)}/h`);
  lines.push(`Spent today: ${m(costs.spentToday)}; this month: ${m(costs.spentThisMonth)}`);
  if (costs.budget !== null) {
    const pct = costs.budgetUsed === null ? "" : ` (${Math.round(costs.budgetUsed * 100)}%)`;
    lines.push(`Monthly budget: ${m(costs.budget)}${pct}${costs.budgetState === "exceeded" ? ": exceeded, new claims are refused" : costs.budgetState === "warning" ? ": nearly spent" : ""}`);
  }
  if (failure) lines.push(`Last update failed: ${failure.message}`);
  lines.push("Click for cost details.");
  return {
    text: `$(server) ${n} · ${m(costs.ratePerHour)}/h · ${m(costs.spentThisMonth)} this month`,
    tooltip: lines.join("\n"),
    colour: costs.budgetState === "exceeded" ? "error" : costs.budgetState === "warning" ? "warning" : "none",
  };
}

/** The cost details as Markdown (opened in a read-only preview). */
export function costDetailsMarkdown(costs: CostsResponse, at: Date): string {
  const m = (n: number) => formatMoney(n, costs.currency);
  const out = [
    "# RStudio Pool: costs",
    "",
    `As of ${at.toISOString().replace("T", " ").slice(0, 16)} UTC.`,
    "",
    `| | ${costs.currency} |`,
    "| --- | ---: |",
    `| Running now, per hour | ${m(costs.ratePerHour)} |`,
    `| Spent today | ${m(costs.spentToday)} |`,
    `| Spent this month | ${m(costs.spentThisMonth)} |`,
    `| Monthly budget | ${costs.budget === null ? "none" : m(costs.budget)} |`,
    `| Budget used | ${costs.budgetUsed === null ? "n/a" : `${Math.round(costs.budgetUsed * 100)}%`} |`,
    "",
  ];
  if (costs.budgetState === "exceeded") out.push("**The budget is spent: new claims are refused and idle instances are reaped sooner.**", "");
  else if (costs.budgetState === "warning") out.push("**The budget is nearly spent.**", "");
  out.push("## Instances", "");
  if (costs.instances.length === 0) out.push("None running.");
  else {
    out.push("| Instance | Purpose | Per hour |", "| --- | --- | ---: |");
    for (const i of costs.instances) out.push(`| ${i.instanceId} | ${i.purpose} | ${m(i.hourlyPrice)} |`);
  }
  out.push("", "Instances you leave idle are reaped by the pool and stop costing money.");
  return out.join("\n");
}
