/**
 * Interrupting step: an instance the provider is taking back has its user's things taken off
 * (the provider's release: suspended R sessions and the home volume), so the replacement can
 * attach the home, and then goes to the terminate step without waiting for the provider's own
 * deadline. If the provider is quicker, the reconciler records the instance as interrupted.
 */
import { listInStates } from "../../store/instances";
import { configuredPurpose, type PoolContext } from "../context";
import { toRef } from "../refs";
import { transition } from "../transitions";
import { forEachInstance, type LifecycleStep } from "./step";

export const interruptingStep: LifecycleStep = {
  name: "interrupting",
  due: (t) => t.plan.interrupting,
  async run(t) {
    if ((await handOffInterrupting(t.ctx)) > 0) return { due: ["terminate", "assign"] };
  },
};

export async function handOffInterrupting(ctx: PoolContext): Promise<number> {
  let done = 0;
  await forEachInstance(ctx, "interrupting", await listInStates(ctx.db, ["interrupting"]), async (inst) => {
    const purpose = configuredPurpose(ctx, inst.purpose);
    try {
      // A purpose removed from the config has no release settings: the terminate step's
      // termination (and the home's detach at termination) is all there is to do.
      if (purpose && inst.providerId) await ctx.provider.release(toRef(inst), purpose);
    } catch (err) {
      ctx.log.warn({ event: "interrupting-retry", instanceId: inst.id, err: (err as Error).message }, "could not take the home off the interrupted instance yet; will retry");
      return;
    }
    const now = ctx.clock.now();
    const ok = await transition(ctx, inst.id, {
      from: "interrupting",
      to: "releasing",
      patch: { stateReason: "spot-interruption", details: { ...inst.details, homeReleasedAt: now }, updatedAt: now },
      event: { kind: "released", userId: inst.lastOwnerId, purpose: inst.purpose, reason: "spot-interruption", actor: "lifecycle" },
      log: { msg: "interrupted instance let go of its home; terminating it", fields: { replacementId: inst.details.replacementId ?? null } },
    });
    if (ok) done++;
  });
  return done;
}
