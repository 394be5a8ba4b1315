/**
 * Terminate step: a `releasing` instance has the user's things taken off (home volume) and is
 * terminated; then it is `terminated` with its end time. Safe to repeat: providers treat an
 * instance that is already gone as terminated.
 */
import { listInStates } from "../../store/instances";
import { purposeOf, type PoolContext } from "../context";
import { toRef } from "../refs";
import { transition } from "../transitions";

export async function terminateReleasing(ctx: PoolContext, isLaunchInFlight: (id: string) => boolean): Promise<number> {
  let done = 0;
  const releasing = await listInStates(ctx.db, ["releasing"]);
  for (const inst of releasing) {
    if (!inst.providerId && isLaunchInFlight(inst.id)) continue; // its launch will record the provider id first
    const purpose = purposeOf(ctx, inst.purpose);
    const ref = toRef(inst);
    try {
      if (inst.providerId) {
        await ctx.provider.release(ref, purpose);
        await ctx.provider.terminate([ref]);
      }
    } catch (err) {
      ctx.log.warn({ event: "terminate-retry", instanceId: inst.id, err: (err as Error).message }, "terminate failed; will retry");
      continue;
    }
    const now = ctx.clock.now();
    const ok = await transition(ctx, inst.id, {
      from: "releasing",
      to: "terminated",
      patch: { endedAt: now, updatedAt: now },
      event: { userId: inst.lastOwnerId, purpose: inst.purpose, kind: "terminated", reason: inst.stateReason, actor: "lifecycle" },
    });
    if (ok) done++;
  }
  return done;
}
