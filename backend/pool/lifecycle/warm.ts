/**
 * Warm pool: keeps the number of free instances of each purpose at its target (the static
 * `minFree`, or what the adaptive policy forecasts), never past the purpose's or the pool's
 * maximum. New rows are inserted under the same locks claims take, so the limits hold.
 */
import { recordEvent } from "../../store/events";
import { countLive, findInStates, insertInstance, lockPurpose, POOL_LOCK } from "../../store/instances";
import { newLaunchRow } from "../claims";
import type { PoolContext } from "../context";
import { releaseInstance } from "../user-instances";

export interface WarmChange {
  purpose: string;
  launched: number;
  scaledDown: number;
}

export async function balanceWarmPool(ctx: PoolContext): Promise<WarmChange[]> {
  const changes: WarmChange[] = [];
  for (const purpose of ctx.config.purposes) {
    const now = ctx.clock.now();
    const target = Math.min(purpose.max, Math.max(0, Math.floor(await ctx.policies.warmTarget(purpose, now))));
    const launched = await ctx.db.transaction().execute(async (trx) => {
      await lockPurpose(trx, purpose.name, now);
      const free = await findInStates(trx, ["launching", "booting", "running"], { purpose: purpose.name, free: true });
      if (free.length >= target) return 0;
      await lockPurpose(trx, POOL_LOCK, now);
      const roomPurpose = purpose.max - (await countLive(trx, purpose.name));
      const roomPool = ctx.config.maxInstances - (await countLive(trx));
      const n = Math.max(0, Math.min(target - free.length, roomPurpose, roomPool));
      for (let k = 0; k < n; k++) {
        const row = newLaunchRow(ctx, purpose, now, null, null);
        await insertInstance(trx, row);
        await recordEvent(trx, { at: now, instanceId: row.id, userId: null, purpose: purpose.name, kind: "launch-requested", reason: "warm-pool", actor: "warm-pool", details: { target } });
      }
      return n;
    });

    let scaledDown = 0;
    const freeAll = await findInStates(ctx.db, ["launching", "booting", "running"], { purpose: purpose.name, free: true });
    const freeRunning = freeAll.filter((i) => i.state === "running");
    let excess = freeAll.length - target;
    // Scale down the most recently started first: the ones running longest have proven healthy.
    for (const inst of freeRunning.sort((a, b) => (b.runningAt ?? 0) - (a.runningAt ?? 0))) {
      if (excess <= 0) break;
      if (await releaseInstance(ctx, inst, "scale-down", "warm-pool")) {
        scaledDown++;
        excess--;
      }
    }
    if (launched || scaledDown) {
      ctx.log.info({ event: "warm-pool", purpose: purpose.name, target, launched, scaledDown }, "warm pool balanced");
      changes.push({ purpose: purpose.name, launched, scaledDown });
    }
  }
  return changes;
}
