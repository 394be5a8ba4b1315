/**
 * What a lifecycle step is: a small object the loop asks, each tick, whether it has work
 * (`due`, from the tick's plan) and then runs. A step answers with follow-ups: the work it
 * leaves for the steps after it in the same tick. Adding a step is one file that exports one
 * of these and one line in steps.ts.
 */
import type { Instance } from "../../store/instances";
import type { PoolContext } from "../context";
import type { BackgroundOps } from "./ops";
import type { Launcher } from "./launch";
import type { TickPlan } from "./plan";

/** The flags of the plan a step can raise for the steps after it. */
export type PlanFlag = Exclude<keyof TickPlan, "freeByPurpose">;

export interface FollowUps {
  /** Steps that now have work. */
  due?: PlanFlag[];
  /** The free counts the tick started with are stale: count again. */
  recount?: boolean;
  /** What the step did is uncertain: every step runs. */
  everything?: boolean;
}

/** What a tick gives its steps. */
export interface Tick {
  ctx: PoolContext;
  plan: TickPlan;
  /** Free instances per purpose as the tick read them; undefined: count again. */
  knownFree: Map<string, number> | undefined;
  forceReconcile: boolean;
  launcher: Launcher;
  /** Long provider operations, run beside the tick. */
  ops: BackgroundOps;
  /** How long a step waits for the operations it started before leaving them in the background. */
  opWaitMs: number;
  /** The launching rows the warm step inserted in this tick (undefined: none yet). */
  warmLaunches?: Instance[];
  /** A step failed or was unsure of what it did: steps read the rows rather than trust what earlier steps passed on. */
  uncertain?: boolean;
  /** What the loop remembers between ticks (when it last reconciled). */
  memory: { lastReconcile: number };
}

export interface LifecycleStep {
  readonly name: string;
  due(tick: Tick): boolean;
  run(tick: Tick): Promise<FollowUps | void>;
}

/** How many instances a step handles between two turns of the event loop. */
const YIELD_EVERY = 32;

/**
 * Runs `work` for each instance; a failure is logged with the instance and never stops the
 * others (one broken instance, or a purpose removed from the configuration, must not block
 * the rest of the pool).
 */
export async function forEachInstance<T extends { id: string }>(ctx: PoolContext, step: string, items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let done = 0;
  for (const item of items) {
    // SQLite's statements are synchronous, so a step over many instances (1,000 spares ready at
    // once) would otherwise hold the event loop for half a second; claims and heartbeats get in
    // between batches.
    if (++done % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      await work(item);
    } catch (err) {
      ctx.log.error({ event: "instance-step-failed", step, instanceId: item.id, err: (err as Error).message }, `lifecycle step ${step} failed for one instance; will retry`);
    }
  }
}
