/**
 * The idle reaper and the lifetime limit. Deadlines are columns, so a restarted backend reaps
 * exactly what was due. Before reaping, the provider is asked whether the user is still
 * computing; a busy instance gets more time instead. The busy check waits on a command on the
 * instance, so it runs beside the tick (ops.ts): a slow one holds up only its own instance.
 */
import { SERVING_STATES } from "../../../contract";
import { findInStates, getInstance, type Instance } from "../../store/instances";
import { configuredPurpose, type PoolContext } from "../context";
import { toRef } from "../refs";
import { changeWithEvent } from "../transitions";
import { releaseInstance } from "../user-instances";
import { waitUpTo, type BackgroundOps } from "./ops";
import { forEachInstance, type LifecycleStep } from "./step";

export interface ReapOptions {
  ops: BackgroundOps;
  waitMs: number;
}

/** Reaps what is idle; returns how many it released within this call (busy checks still running finish later). */
export async function reapIdle(ctx: PoolContext, options?: ReapOptions): Promise<number> {
  let reaped = 0;
  const started: Array<Promise<void> | null> = [];
  const serving = await findInStates(ctx.db, SERVING_STATES, { free: false, idleDeadlineBefore: ctx.clock.now() });
  await forEachInstance(ctx, "reap", serving, async (inst) => {
    const now = ctx.clock.now();
    if (!inst.ownerId || inst.idleDeadline === null || inst.idleDeadline > now) return;
    // A removed purpose's instances are released by the retire step.
    if (!configuredPurpose(ctx, inst.purpose)) return;
    if (inst.state !== "running") {
      if (await reapOne(ctx, inst)) reaped++;
      return;
    }
    const check = async () => {
      if (await checkThenReap(ctx, inst)) reaped++;
    };
    if (options) started.push(options.ops.start(`busy-check:${inst.id}`, check));
    else await check();
  });
  if (options) await waitUpTo(started, options.waitMs);
  return reaped;
}

async function reapOne(ctx: PoolContext, inst: Pick<Instance, "id" | "ownerId" | "purpose">): Promise<boolean> {
  // A heartbeat that moved the deadline (and was answered with the new one) wins: the release
  // re-checks the deadline in the same guarded update.
  if (!(await releaseInstance(ctx, inst, "idle", "reaper", { idleDeadlineAtMost: ctx.clock.now() }))) return false;
  ctx.metrics.reaps.inc({ purpose: inst.purpose, reason: "idle" });
  return true;
}

async function checkThenReap(ctx: PoolContext, inst: Instance): Promise<boolean> {
  const purpose = configuredPurpose(ctx, inst.purpose);
  if (!purpose) return false;
  let busy = false;
  try {
    busy = await ctx.provider.isBusy(toRef(inst), purpose);
  } catch (err) {
    // An unanswered busy check (after the provider's own retries) must not keep an instance forever: reap as planned.
    ctx.log.warn({ event: "busy-check-failed", instanceId: inst.id, err: (err as Error).message }, "busy check failed after its retries; reaping as idle");
  }
  const now = ctx.clock.now();
  // The check may have taken a while: a heartbeat or a release meanwhile wins.
  const current = await getInstance(ctx.db, inst.id);
  if (!current || current.state !== "running" || current.ownerId !== inst.ownerId || current.idleDeadline === null || current.idleDeadline > now) return false;
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
    return false;
  }
  return reapOne(ctx, inst);
}

export async function expireOld(ctx: PoolContext): Promise<number> {
  let expired = 0;
  // Running rows old enough for the shortest lifetime of any purpose (each is checked against its
  // own below). Launching and booting ones are left to the boot timeout rather than racing the launch.
  const shortest = Math.min(...ctx.config.purposes.map((p) => p.maxLifetimeSeconds));
  const live = await findInStates(ctx.db, ["running"], { launchedBefore: ctx.clock.now() - shortest * 1000 });
  await forEachInstance(ctx, "expire", live, async (inst) => {
    const purpose = configuredPurpose(ctx, inst.purpose);
    if (!purpose) return; // the retire step releases it
    if (ctx.clock.now() - inst.launchedAt < purpose.maxLifetimeSeconds * 1000) return;
    if (await releaseInstance(ctx, inst, "max-lifetime", "reaper")) {
      expired++;
      ctx.metrics.reaps.inc({ purpose: inst.purpose, reason: "max-lifetime" });
    }
  });
  return expired;
}

export const reapStep: LifecycleStep = {
  name: "reap",
  due: (t) => t.plan.reap,
  async run(t) {
    if ((await reapIdle(t.ctx, { ops: t.ops, waitMs: t.opWaitMs })) > 0) return { due: ["terminate"] };
  },
};

export const expireStep: LifecycleStep = {
  name: "expire",
  due: (t) => t.plan.expire,
  async run(t) {
    if ((await expireOld(t.ctx)) > 0) return { due: ["terminate"] };
  },
};
