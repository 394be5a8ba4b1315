/**
 * Which lifecycle steps a tick has work for, decided from one aggregate read of the live rows
 * (surveyLive). Most ticks find nothing to do, and an idle pool then costs a few queries a
 * tick instead of one per step. Every condition errs on the side of running the step.
 */
import { isServing } from "../../../contract";
import type { LiveGroup } from "../../store/instances";

export interface TickPlan {
  launch: boolean;
  boot: boolean;
  assign: boolean;
  reap: boolean;
  expire: boolean;
  terminate: boolean;
  /** Live instances of a purpose no longer configured: release them. */
  retire: boolean;
  /** The warm step asked for spares: launch them in the same tick. */
  launchWarm: boolean;
  /** Instances the provider is taking back wait for their home to be taken off. */
  interrupting: boolean;
  /** Unassigned launching, booting and running instances per purpose (absent: none). */
  freeByPurpose: Map<string, number>;
}

export function planTick(groups: LiveGroup[], now: number, shortestLifetimeMs: number, configured?: ReadonlySet<string>): TickPlan {
  const plan: TickPlan = {
    launch: false,
    boot: false,
    assign: false,
    reap: false,
    expire: false,
    terminate: false,
    retire: false,
    launchWarm: false,
    interrupting: false,
    freeByPurpose: new Map(),
  };
  for (const g of groups) {
    if (configured && !configured.has(g.purpose) && g.state !== "releasing") plan.retire = true;
    if (g.state === "launching") plan.launch = true;
    if (g.state === "booting") plan.boot = true;
    if (g.state === "releasing") plan.terminate = true;
    if (g.state === "interrupting") plan.interrupting = true;
    if (g.state === "running" && g.pendingHandOvers > 0) plan.assign = true;
    if (g.state === "running" && g.oldestLaunchedAt !== null && g.oldestLaunchedAt <= now - shortestLifetimeMs) plan.expire = true;
    if (isServing(g.state)) {
      if (g.nextIdleDeadline !== null && g.nextIdleDeadline <= now) plan.reap = true;
      plan.freeByPurpose.set(g.purpose, (plan.freeByPurpose.get(g.purpose) ?? 0) + g.free);
    }
  }
  return plan;
}
