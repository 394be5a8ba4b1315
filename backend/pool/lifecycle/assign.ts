/**
 * Assignment step: an instance handed to a user while it was free (warm) gets the user's
 * things (owner tag, home volume) from the provider. The claim commits first and this step
 * completes the hand-over (`handed_over_to` catches up with `owner_id`), so a crash in between
 * is finished on the next tick. The provider's part (API calls on EC2, a state file locally)
 * runs beside the tick (ops.ts), at most 256 at a time, so a burst of claims neither
 * holds the tick up nor sends the provider a thousand calls at once.
 */
import { findPendingHandOvers, updateInstance, type Instance } from "../../store/instances";
import { configuredPurpose, type PoolContext } from "../context";
import { toRef } from "../refs";
import { waitUpTo, type BackgroundOps } from "./ops";
import type { LifecycleStep } from "./step";

/** Hand-overs in flight at once (each is a few provider calls). */
export const HAND_OVERS_IN_FLIGHT = 256;

export interface AssignOptions {
  ops: BackgroundOps;
  waitMs: number;
}

/** Completes pending hand-overs; returns how many it completed (those finished within `waitMs`, with ops). */
export async function completeAssignments(ctx: PoolContext, options?: AssignOptions): Promise<number> {
  let done = 0;
  const started: Array<Promise<void> | null> = [];
  let inFlight = options ? countAssigning(options.ops) : 0;
  for (const inst of await findPendingHandOvers(ctx.db)) {
    if (!options) {
      if (await handOver(ctx, inst)) done++;
      continue;
    }
    const key = `assign:${inst.id}`;
    if (options.ops.isRunning(key)) continue;
    // The rest wait for the next tick (an operation's end kicks one).
    if (inFlight >= HAND_OVERS_IN_FLIGHT) break;
    inFlight++;
    started.push(
      options.ops.start(key, async () => {
        if (await handOver(ctx, inst)) done++;
      }),
    );
  }
  if (options) await waitUpTo(started, options.waitMs);
  return done;
}

function countAssigning(ops: BackgroundOps): number {
  return ops.keys().filter((k) => k.startsWith("assign:")).length;
}

async function handOver(ctx: PoolContext, inst: Instance): Promise<boolean> {
  const owner = inst.ownerId!;
  const purpose = configuredPurpose(ctx, inst.purpose);
  if (!purpose) return false; // the retire step releases it
  try {
    await ctx.provider.assign(toRef(inst), owner, purpose);
    const { assignError: _, ...details } = inst.details;
    return await updateInstance(ctx.db, inst.id, { handedOverTo: owner, details, updatedAt: ctx.clock.now() }, { states: ["running"], ownerId: owner });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ctx.log.warn({ event: "assign-retry", instanceId: inst.id, userId: owner, err: message }, "could not hand the instance over yet");
    await updateInstance(ctx.db, inst.id, { details: { ...inst.details, assignError: message }, updatedAt: ctx.clock.now() }, { ownerId: owner });
    return false;
  }
}

export const assignStep: LifecycleStep = {
  name: "assign",
  due: (t) => t.plan.assign,
  async run(t) {
    await completeAssignments(t.ctx, { ops: t.ops, waitMs: t.opWaitMs });
  },
};
