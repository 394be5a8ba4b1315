/**
 * Assignment step: an instance handed to a user while it was free (warm) gets the user's
 * things (owner tag, home volume) from the provider. The claim commits first and this step
 * completes the hand-over (`handed_over_to` catches up with `owner_id`), so a crash in between
 * is finished on the next tick.
 */
import { findPendingHandOvers, updateInstance } from "../../store/instances";
import { purposeOf, type PoolContext } from "../context";
import { toRef } from "../refs";

/** Completes pending hand-overs; returns how many it completed. */
export async function completeAssignments(ctx: PoolContext): Promise<number> {
  let done = 0;
  for (const inst of await findPendingHandOvers(ctx.db)) {
    const owner = inst.ownerId!;
    try {
      await ctx.provider.assign(toRef(inst), owner, purposeOf(ctx, inst.purpose));
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
