/**
 * Terminate step: a `releasing` instance has the user's things taken off (home volume) and is
 * terminated; then it is `terminated` with its end time. Safe to repeat: providers treat an
 * instance that is already gone as terminated. Taking the home volume off waits on a command
 * on the instance, so each termination runs beside the tick (ops.ts). An instance whose
 * purpose was removed from the configuration is terminated without that step: terminating
 * frees the volume too.
 */
import { getInstance, listInStates, type Instance } from "../../store/instances";
import { configuredPurpose, type PoolContext } from "../context";
import { toRef } from "../refs";
import { transition } from "../transitions";
import { waitUpTo, type BackgroundOps } from "./ops";
import { forEachInstance, type LifecycleStep } from "./step";

export interface TerminateOptions {
  ops: BackgroundOps;
  waitMs: number;
}

export async function terminateReleasing(ctx: PoolContext, isLaunchInFlight: (id: string) => boolean, options?: TerminateOptions): Promise<number> {
  let done = 0;
  const started: Array<Promise<void> | null> = [];
  const releasing = await listInStates(ctx.db, ["releasing"]);
  await forEachInstance(ctx, "terminate", releasing, async (listed) => {
    if (!listed.providerId && isLaunchInFlight(listed.id)) return; // its launch will record the provider id first
    // A launch that finished since the listing has written its provider id: read it again, or
    // the row is closed without terminating what the launch started (an orphan process).
    const inst = listed.providerId ? listed : await getInstance(ctx.db, listed.id);
    if (!inst || inst.state !== "releasing") return;
    const work = async () => {
      if (await terminateOne(ctx, inst)) done++;
    };
    if (options) started.push(options.ops.start(`terminate:${inst.id}`, work));
    else await work();
  });
  if (options) await waitUpTo(started, options.waitMs);
  return done;
}

async function terminateOne(ctx: PoolContext, inst: Instance): Promise<boolean> {
  const purpose = configuredPurpose(ctx, inst.purpose);
  const ref = toRef(inst);
  let seenEnd: number | undefined;
  try {
    if (inst.providerId) {
      if (purpose) await ctx.provider.release(ref, purpose);
      const ended = await ctx.provider.terminate([ref]);
      seenEnd = ended?.find((e) => e.providerId === inst.providerId)?.endedAt;
    }
  } catch (err) {
    ctx.log.warn({ event: "terminate-retry", instanceId: inst.id, err: (err as Error).message }, "terminate failed; will retry");
    return false;
  }
  const now = ctx.clock.now();
  // Billed to when the provider saw it end (never later than now, never before it launched).
  const endedAt = seenEnd === undefined ? now : Math.max(inst.launchedAt, Math.min(now, seenEnd));
  return transition(ctx, inst.id, {
    from: "releasing",
    to: "terminated",
    patch: { endedAt, updatedAt: now },
    event: { at: endedAt, userId: inst.lastOwnerId, purpose: inst.purpose, kind: "terminated", reason: inst.stateReason, actor: "lifecycle" },
  });
}

export const terminateStep: LifecycleStep = {
  name: "terminate",
  due: (t) => t.plan.terminate,
  async run(t) {
    await terminateReleasing(t.ctx, (id) => t.launcher.isInFlight(id), { ops: t.ops, waitMs: t.opWaitMs });
  },
};
