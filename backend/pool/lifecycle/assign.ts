/**
 * Assignment step: an instance handed to a user while it was free (warm) gets the user's
 * things (owner tag, home volume) from the provider. The claim commits first and this step
 * completes the hand-over, so a crash in between is finished on the next tick.
 */
import { findPendingHandOvers, updateInstance } from "../../store/instances";
import { purposeOf, type PoolContext } from "../context";
import { toRef } from "../refs";

export async function completeAssignments(ctx: PoolContext): Promise<void> {
  for (const inst of await findPendingHandOvers(ctx.db)) {
    if (!inst.ownerId || inst.details.assignedTo === inst.ownerId) continue;
    const owner = inst.ownerId;
    try {
      await ctx.provider.assign(toRef(inst), owner, purposeOf(ctx, inst.purpose));
      await updateInstance(
        ctx.db,
        inst.id,
        { details: { ...inst.details, assignedTo: owner, assignError: undefined }, updatedAt: ctx.clock.now() },
        { states: ["running"], ownerId: owner },
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      ctx.log.warn({ event: "assign-retry", instanceId: inst.id, userId: owner, err: message }, "could not hand the instance over yet");
      await updateInstance(ctx.db, inst.id, { details: { ...inst.details, assignError: message }, updatedAt: ctx.clock.now() }, { ownerId: owner });
    }
  }
}

/** Whether a running instance has been fully handed to its owner (connections wait for it). */
export function isHandedOver(details: Record<string, unknown>, ownerId: string): boolean {
  return details.assignedTo === ownerId;
}
