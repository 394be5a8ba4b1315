/**
 * Assignment step: an instance handed to a user while it was free (warm) gets the user's
 * things (owner tag, home volume) from the provider. The claim commits first and this step
 * completes the hand-over (`handed_over_to` catches up with `owner_id`), so a crash in between
 * is finished on the next tick.
 */
import { findPendingHandOvers, updateInstance } from "../../store/instances";
import { configuredPurpose, type PoolContext } from "../context";
import { toRef } from "../refs";
import type { LifecycleStep } from "./step";

/** Completes pending hand-overs; returns how many it completed. */
export async function completeAssignments(ctx: PoolContext): Promise<number> {
  let done = 0;
  for (const inst of await findPendingHandOvers(ctx.db)) {
    const owner = inst.ownerId!;
    const purpose = configuredPurpose(ctx, inst.purpose);
    if (!purpose) continue; // the retire step releases it
    try {
      await ctx.provider.assign(toRef(inst), owner, purpose);
      const { assignError: _, ...details } = inst.details;
      const ok = await updateInstance(ctx.db, inst.id, { handedOverTo: owner, details, updatedAt: ctx.clock.now() }, { states: ["running"], ownerId: owner });
      if (ok) done++;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      ctx.log.warn({ event: "assign-retry", instanceId: inst.id, userId: owner, err: message }, "could not hand the instance over yet");
      await updateInstance(ctx.db, inst.id, { details: { ...inst.details, assignError: message }, updatedAt: ctx.clock.now() }, { ownerId: owner });
    }
  }
  return done;
}

export const assignStep: LifecycleStep = {
  name: "assign",
  due: (t) => t.plan.assign,
  async run(t) {
    await completeAssignments(t.ctx);
  },
};
