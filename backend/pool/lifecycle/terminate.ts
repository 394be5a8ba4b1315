/**
 * Terminate step: a `releasing` instance has the user's things taken off (home volume) and is
 * terminated; then it is `terminated` with its end time. Safe to repeat: providers treat an
 * instance that is already gone as terminated. Taking the home volume off waits on a command
 * on the instance, so each termination runs beside the tick (ops.ts). An instance whose
 * purpose was removed from the configuration is terminated without that step: terminating
 * frees the volume too.
 */
import type { InstanceRef, Provider, TerminatedAt } from "../../providers/types";
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
      seenEnd = await batcherFor(ctx.provider).terminate(ref);
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

/** Most instances in one provider call (EC2's TerminateInstances takes up to 1,000). */
export const TERMINATE_BATCH = 200;

/**
 * Gathers the terminations asked for in one turn of the event loop (a tick starts them all at
 * once) into one `provider.terminate(list)` call per batch: after a burst of releases, a few
 * calls instead of a thousand. When a batch fails, each instance is tried alone, so one that
 * the provider refuses does not hold up the others.
 */
class TerminateBatcher {
  private queue: Array<{ ref: InstanceRef; resolve: (endedAt: number | undefined) => void; reject: (err: unknown) => void }> = [];
  private scheduled = false;

  constructor(private readonly provider: Provider) {}

  /** Resolves with when the provider saw the instance end, if it says. */
  terminate(ref: InstanceRef): Promise<number | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ref, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.queue.splice(0);
    for (let k = 0; k < all.length; k += TERMINATE_BATCH) void this.send(all.slice(k, k + TERMINATE_BATCH));
  }

  private async send(batch: typeof this.queue): Promise<void> {
    try {
      const ended = endTimes(await this.provider.terminate(batch.map((b) => b.ref)));
      for (const b of batch) b.resolve(ended.get(b.ref.providerId ?? ""));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      await Promise.all(
        batch.map((b) =>
          this.provider.terminate([b.ref]).then(
            (ended) => b.resolve(endTimes(ended).get(b.ref.providerId ?? "")),
            (e: unknown) => b.reject(e),
          ),
        ),
      );
    }
  }
}

function endTimes(ended: TerminatedAt[] | void): Map<string, number> {
  return new Map((ended ?? []).map((e) => [e.providerId, e.endedAt]));
}

const batchers = new WeakMap<Provider, TerminateBatcher>();

function batcherFor(provider: Provider): TerminateBatcher {
  let b = batchers.get(provider);
  if (!b) batchers.set(provider, (b = new TerminateBatcher(provider)));
  return b;
}

export const terminateStep: LifecycleStep = {
  name: "terminate",
  due: (t) => t.plan.terminate,
  async run(t) {
    await terminateReleasing(t.ctx, (id) => t.launcher.isInFlight(id), { ops: t.ops, waitMs: t.opWaitMs });
  },
};
