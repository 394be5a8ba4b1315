/**
 * Terminate step: a `releasing` instance has the user's things taken off (home volume) and is
 * terminated; then it is `terminated` with its end time. Safe to repeat: providers treat an
 * instance that is already gone as terminated.
 */
import { recordEvent } from "../../store/events";
import { getInstance, listInStates, updateInstance } from "../../store/instances";
import { purposeOf, type PoolContext } from "../context";
import { toRef } from "../refs";

export async function terminateReleasing(ctx: PoolContext, isLaunchInFlight: (id: string) => boolean): Promise<number> {
  let done = 0;
  const releasing = await listInStates(ctx.db, ["releasing"]);
  for (const listed of releasing) {
    if (!listed.providerId && isLaunchInFlight(listed.id)) continue; // its launch will record the provider id first
    // A launch that finished since the listing has written its provider id: read it again, or
    // the row is closed without terminating what the launch started (an orphan process).
    const inst = listed.providerId ? listed : await getInstance(ctx.db, listed.id);
    if (!inst || inst.state !== "releasing") continue;
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
    const ok = await updateInstance(ctx.db, inst.id, { state: "terminated", endedAt: now, updatedAt: now }, { states: ["releasing"] });
    if (ok) {
      await recordEvent(ctx.db, { at: now, instanceId: inst.id, userId: inst.lastOwnerId, purpose: inst.purpose, kind: "terminated", reason: inst.stateReason, actor: "lifecycle" });
      done++;
    }
  }
  return done;
}
