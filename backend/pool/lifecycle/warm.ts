/**
 * Warm pool: keeps the number of free instances of each purpose at its target (the static
 * `minFree`, or what the adaptive policy forecasts), never past the purpose's or the pool's
 * maximum. New rows are inserted under the same locks claims take, so the limits hold.
 */
import { countFree, countLiveOfPurposeAndPool, listSpareRunning, type Instance } from "../../store/instances";
import { lockPurpose, POOL_LOCK } from "../../store/purpose-locks";
import { newLaunchRow } from "../claims";
import type { PoolContext } from "../context";
import { createInstance } from "../transitions";
import { releaseInstance } from "../user-instances";
import type { LifecycleStep, PlanFlag } from "./step";

export interface WarmChange {
  purpose: string;
  /** The rows inserted (launching), committed. */
  launched: Instance[];
  scaledDown: number;
}

/**
 * `knownFree`: free instances per purpose as the tick read them (a purpose not listed has
 * none); without it each purpose is counted here.
 */
export async function balanceWarmPool(ctx: PoolContext, knownFree?: Map<string, number>): Promise<WarmChange[]> {
  const changes: WarmChange[] = [];
  for (const purpose of ctx.config.purposes) {
    const now = ctx.clock.now();
    const target = Math.min(purpose.max, Math.max(0, Math.floor(await ctx.policies.warmTarget(purpose, now))));
    const free = knownFree ? (knownFree.get(purpose.name) ?? 0) : await countFree(ctx.db, purpose.name);
    let scaledDown = 0;
    let launched: Instance[] = [];
    if (free < target) {
      launched = await ctx.db.transaction().execute(async (trx) => {
        // Counted again under the lock: a claim may have taken a spare since.
        await lockPurpose(trx, purpose.name, now);
        const freeNow = await countFree(trx, purpose.name);
        if (freeNow >= target) return [];
        await lockPurpose(trx, POOL_LOCK, now);
        const live = await countLiveOfPurposeAndPool(trx, purpose.name);
        const roomPurpose = purpose.max - live.purpose;
        const roomPool = ctx.config.maxInstances - live.pool;
        const n = Math.max(0, Math.min(target - freeNow, roomPurpose, roomPool));
        const created: Instance[] = [];
        for (let k = 0; k < n; k++) {
          const row = newLaunchRow(ctx, purpose, now, null, null);
          await createInstance(ctx, row, [{ at: now, userId: null, purpose: purpose.name, kind: "launch-requested", reason: "warm-pool", actor: "warm-pool", details: { target } }], trx);
          created.push(row);
        }
        return created;
      });
    } else if (free > target) {
      // Scale down the most recently started first: the ones running longest have proven
      // healthy. Spares still starting are left to finish.
      let excess = free - target;
      for (const inst of await listSpareRunning(ctx.db, purpose.name)) {
        if (excess <= 0) break;
        if (await releaseInstance(ctx, inst, "scale-down", "warm-pool")) {
          scaledDown++;
          excess--;
        }
      }
    }
    if (launched.length || scaledDown) {
      ctx.log.info({ event: "warm-pool", purpose: purpose.name, target, launched: launched.length, scaledDown }, "warm pool balanced");
      changes.push({ purpose: purpose.name, launched, scaledDown });
    }
  }
  return changes;
}

export const warmStep: LifecycleStep = {
  name: "warm",
  due: () => true,
  async run(t) {
    const due: PlanFlag[] = [];
    for (const c of await balanceWarmPool(t.ctx, t.knownFree)) {
      if (c.launched.length) {
        due.push("launchWarm");
        (t.warmLaunches ??= []).push(...c.launched);
      }
      if (c.scaledDown) due.push("terminate");
    }
    return { due };
  },
};
