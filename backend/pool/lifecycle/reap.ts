/**
 * The idle reaper and the lifetime limit. Deadlines are columns, so a restarted backend reaps
 * exactly what was due. Before reaping, the provider is asked whether the user is still
 * computing; a busy instance gets more time instead.
 */
import { SERVING_STATES } from "../../../contract";
import { findInStates } from "../../store/instances";
import { purposeOf, type PoolContext } from "../context";
import { toRef } from "../refs";
import { changeWithEvent } from "../transitions";
import { releaseInstance } from "../user-instances";

export async function reapIdle(ctx: PoolContext): Promise<number> {
  let reaped = 0;
  const serving = await findInStates(ctx.db, SERVING_STATES, { free: false, idleDeadlineBefore: ctx.clock.now() });
  for (const inst of serving) {
    const now = ctx.clock.now();
    if (!inst.ownerId || inst.idleDeadline === null || inst.idleDeadline > now) continue;
    const purpose = purposeOf(ctx, inst.purpose);
    if (inst.state === "running") {
      let busy = false;
      try {
        busy = await ctx.provider.isBusy(toRef(inst), purpose);
      } catch (err) {
        // An unanswered busy check (after the provider's own retries) must not keep an instance forever: reap as planned.
        ctx.log.warn({ event: "busy-check-failed", instanceId: inst.id, err: (err as Error).message }, "busy check failed after its retries; reaping as idle");
      }
      if (busy) {
        const extendMs = (purpose.ec2?.busyCheck.extendSeconds ?? 1800) * 1000;
        const idleDeadline = now + extendMs;
        await changeWithEvent(
          ctx,
          inst.id,
          { idleDeadline, updatedAt: now },
          { states: ["running"], ownerId: inst.ownerId },
          { userId: inst.ownerId, purpose: inst.purpose, kind: "busy-extended", reason: "R is busy", actor: "reaper", details: { idleDeadline } },
          { msg: "idle deadline passed but R is busy; extended", fields: { userId: inst.ownerId } },
        );
        continue;
      }
    }
    // The busy check took a while: a heartbeat may have moved the deadline meanwhile, and was
    // answered with the new one. The release re-checks it in the same guarded update.
    if (await releaseInstance(ctx, inst, "idle", "reaper", { idleDeadlineAtMost: ctx.clock.now() })) {
      reaped++;
      ctx.metrics.reaps.inc({ purpose: inst.purpose, reason: "idle" });
    }
  }
  return reaped;
}

export async function expireOld(ctx: PoolContext): Promise<number> {
  let expired = 0;
  // Running rows old enough for the shortest lifetime of any purpose (each is checked against its
  // own below). Launching and booting ones are left to the boot timeout rather than racing the launch.
  const shortest = Math.min(...ctx.config.purposes.map((p) => p.maxLifetimeSeconds));
  const live = await findInStates(ctx.db, ["running"], { launchedBefore: ctx.clock.now() - shortest * 1000 });
  for (const inst of live) {
    const purpose = purposeOf(ctx, inst.purpose);
    if (ctx.clock.now() - inst.launchedAt < purpose.maxLifetimeSeconds * 1000) continue;
    if (await releaseInstance(ctx, inst, "max-lifetime", "reaper")) {
      expired++;
      ctx.metrics.reaps.inc({ purpose: inst.purpose, reason: "max-lifetime" });
    }
  }
  return expired;
}
