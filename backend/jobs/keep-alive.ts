/**
 * Keep-alive tied to a process: "keep this instance until this R process ends, at most N
 * hours". While the process lives (the provider's ProcessProbe) and the cap is not reached, the
 * jobs loop keeps the instance's idle deadline ahead, so the reaper's CPU-threshold guess is
 * never needed for it. The hold ends when the process does, at the cap, when its owner ends it,
 * or with the instance; from then on the usual idle timeout applies.
 */
import type { KeepAliveRequest, KeepAliveView } from "../../contract/jobs";
import { isServing, SERVING_STATES } from "../../contract";
import { PoolError } from "../errors";
import { configuredPurpose, purposeOfInstance } from "../pool/context";
import { getOwnedInstance } from "../pool/user-instances";
import { recordEvent } from "../store/events";
import { getInstance, updateInstance } from "../store/instances";
import { endHold, getHold, listActiveHolds, putHold, type KeepAliveHold } from "../store/keep-alive";
import { targetOf, type JobsContext } from "./context";
import { instanceCost } from "./costs";

/** The longest hold one may ask for. */
export const MAX_HOLD_HOURS = 72;

export function validateKeepAlive(body: unknown): KeepAliveRequest {
  const b = (body ?? {}) as Partial<Record<keyof KeepAliveRequest, unknown>>;
  if (b.pid === undefined) throw new PoolError("MISSING_FIELD", 'Missing field "pid" in the request body.');
  if (b.maxHours === undefined) throw new PoolError("MISSING_FIELD", 'Missing field "maxHours" in the request body.');
  const extra = Object.keys(b).filter((k) => k !== "pid" && k !== "maxHours");
  if (extra.length) throw new PoolError("INVALID_REQUEST", `Invalid request body: unknown field "${extra[0]!.slice(0, 40)}".`);
  if (typeof b.pid !== "number" || !Number.isInteger(b.pid) || b.pid < 1 || b.pid > 4_194_304) {
    throw new PoolError("INVALID_REQUEST", 'Invalid request body at "pid": a process id (a positive integer).');
  }
  if (typeof b.maxHours !== "number" || !Number.isFinite(b.maxHours) || b.maxHours <= 0 || b.maxHours > MAX_HOLD_HOURS) {
    throw new PoolError("INVALID_REQUEST", `Invalid request body at "maxHours": more than 0 and at most ${MAX_HOLD_HOURS}.`);
  }
  return { pid: b.pid, maxHours: b.maxHours };
}

async function view(ctx: JobsContext, h: KeepAliveHold): Promise<KeepAliveView> {
  const now = ctx.clock.now();
  const cost = await instanceCost(ctx, h.ownerId, h.instanceId, h.startedAt, Math.max(h.endedAt ?? now, h.startedAt + 1), now);
  return { instanceId: h.instanceId, pid: h.pid, until: new Date(h.untilAt).toISOString(), endedReason: h.endedReason, costSoFar: cost, currency: ctx.config.currency };
}

function noHold(id: string): PoolError {
  return new PoolError("NOT_FOUND", `Instance "${id}" has no keep-alive hold; set one with POST /v1/instances/${id}/keep-alive.`);
}

export async function setKeepAlive(ctx: JobsContext, userId: string, instanceId: string, req: KeepAliveRequest): Promise<KeepAliveView> {
  const inst = await getOwnedInstance(ctx, userId, instanceId);
  const purpose = purposeOfInstance(ctx, inst);
  if (inst.ownerId !== userId || !isServing(inst.state)) throw new PoolError("INSTANCE_NOT_RUNNING", `Instance "${instanceId}" is ${inst.state}; claim a new one.`);
  const probe = ctx.runners.probe();
  if (!probe) throw new PoolError("PROVIDER_ERROR", `The ${ctx.provider.kind} provider cannot watch a process on its instances, so it cannot keep one alive for it.`);
  const now = ctx.clock.now();
  const hold: KeepAliveHold = { instanceId, ownerId: userId, pid: req.pid, startedAt: now, untilAt: now + Math.round(req.maxHours * 3_600_000), endedAt: null, endedReason: null, updatedAt: now };
  const idleMs = await ctx.policies.idleTimeoutMs(userId, purpose, now);
  await ctx.db.transaction().execute(async (trx) => {
    await putHold(trx, hold);
    await updateInstance(trx, instanceId, { idleDeadline: now + idleMs, updatedAt: now }, { states: SERVING_STATES, ownerId: userId });
    await recordEvent(trx, { at: now, instanceId, userId, purpose: inst.purpose, kind: "keep-alive-set", reason: `pid ${req.pid}`, actor: `user:${userId}`, details: { pid: req.pid, until: hold.untilAt } });
  });
  ctx.log.info({ event: "keep-alive-set", instanceId, userId, pid: req.pid, until: hold.untilAt }, "instance kept alive until a process ends");
  return view(ctx, hold);
}

async function ownedHold(ctx: JobsContext, userId: string, instanceId: string): Promise<KeepAliveHold> {
  await getOwnedInstance(ctx, userId, instanceId); // another user's instance: INSTANCE_NOT_FOUND
  const h = await getHold(ctx.db, instanceId);
  if (!h || h.ownerId !== userId) throw noHold(instanceId);
  return h;
}

export async function getKeepAlive(ctx: JobsContext, userId: string, instanceId: string): Promise<KeepAliveView> {
  return view(ctx, await ownedHold(ctx, userId, instanceId));
}

async function finish(ctx: JobsContext, h: KeepAliveHold, reason: string, actor: string): Promise<boolean> {
  const now = ctx.clock.now();
  const ended = await ctx.db.transaction().execute(async (trx) => {
    if (!(await endHold(trx, h.instanceId, h.startedAt, now, reason))) return false;
    await recordEvent(trx, { at: now, instanceId: h.instanceId, userId: h.ownerId, purpose: null, kind: "keep-alive-ended", reason, actor, details: { pid: h.pid } });
    return true;
  });
  if (ended) ctx.log.info({ event: "keep-alive-ended", instanceId: h.instanceId, userId: h.ownerId, reason }, "keep-alive hold ended");
  return ended;
}

export async function endKeepAlive(ctx: JobsContext, userId: string, instanceId: string): Promise<KeepAliveView> {
  const h = await ownedHold(ctx, userId, instanceId);
  if (h.endedAt === null) await finish(ctx, h, "cancelled", `user:${userId}`);
  return view(ctx, (await getHold(ctx.db, instanceId)) ?? h);
}

/** One pass over the active holds: end the ones whose process, cap or instance is gone; keep the others' instances alive. */
export async function watchHolds(ctx: JobsContext): Promise<void> {
  const probe = ctx.runners.probe();
  for (const h of await listActiveHolds(ctx.db)) {
    try {
      const inst = await getInstance(ctx.db, h.instanceId);
      const now = ctx.clock.now();
      if (!inst || !isServing(inst.state) || inst.ownerId !== h.ownerId) {
        await finish(ctx, h, "instance-ended", "jobs");
        continue;
      }
      if (now >= h.untilAt) {
        await finish(ctx, h, "cap", "jobs");
        continue;
      }
      if (!probe) continue;
      if (!(await probe.processAlive(targetOf(inst), h.pid))) {
        await finish(ctx, h, "process-ended", "jobs");
        continue;
      }
      const purpose = configuredPurpose(ctx, inst.purpose);
      if (!purpose) continue;
      const idleMs = await ctx.policies.idleTimeoutMs(h.ownerId, purpose, now);
      // Never beyond the cap: after it the usual idle timeout runs from the cap on.
      const deadline = Math.min(now + idleMs, h.untilAt + idleMs);
      if (inst.idleDeadline === null || inst.idleDeadline - now <= idleMs / 2) {
        await updateInstance(ctx.db, inst.id, { idleDeadline: deadline, updatedAt: now }, { states: SERVING_STATES, ownerId: h.ownerId });
      }
    } catch (err) {
      ctx.log.error({ event: "keep-alive-watch-failed", instanceId: h.instanceId, err: (err as Error).message }, "watching a keep-alive hold failed; retrying next round");
    }
  }
}
