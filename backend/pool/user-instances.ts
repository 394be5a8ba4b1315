/**
 * What a user does with an instance they hold: look at it, keep it alive, connect to it,
 * release it. Every call checks ownership in the same statement that acts, and an instance
 * of someone else answers exactly like one that does not exist.
 */
import type { ConnectionResponse } from "../../contract";
import type { AppName } from "../config/apps";
import { PoolError } from "../errors";
import { isServing, SERVING_STATES } from "../../contract";
import { getForUser, getInstance, listForUser, updateInstance, type Instance } from "../store/instances";
import { purposeOfInstance, type PoolContext } from "./context";
import { toRef } from "./refs";
import { transition } from "./transitions";

/** Ended instances stay visible to their last owner this long, so the client can say why they ended. */
const ENDED_VISIBLE_MS = 24 * 3600 * 1000;

function notFound(id: string): PoolError {
  return new PoolError("INSTANCE_NOT_FOUND", `No instance "${id}" belongs to you. Refresh the list of your instances.`);
}

export async function getOwnedInstance(ctx: PoolContext, userId: string, id: string): Promise<Instance> {
  const inst = await getForUser(ctx.db, userId, id, ctx.clock.now() - ENDED_VISIBLE_MS);
  if (!inst) throw notFound(id);
  return inst;
}

export async function listUserInstances(ctx: PoolContext, userId: string): Promise<Instance[]> {
  return listForUser(ctx.db, userId, ctx.clock.now() - ENDED_VISIBLE_MS);
}

export async function heartbeat(ctx: PoolContext, userId: string, id: string): Promise<{ idleDeadline: number }> {
  const now = ctx.clock.now();
  const guard = { states: SERVING_STATES, ownerId: userId };
  // Heartbeats are the hottest path: with a single purpose the deadline is known without reading
  // the row, so one guarded UPDATE does it (guarded on the purpose too: an instance of a removed
  // purpose must not be kept alive); the row is read only to explain a refusal.
  const only = ctx.config.purposes.length === 1 ? ctx.config.purposes[0]! : null;
  if (only) {
    const idleDeadline = now + (await ctx.policies.idleTimeoutMs(userId, only, now));
    if (await updateInstance(ctx.db, id, { idleDeadline, updatedAt: now }, { ...guard, purpose: only.name })) {
      ctx.metrics.heartbeats.inc();
      return { idleDeadline };
    }
  }
  const inst = await getOwnedInstance(ctx, userId, id);
  const purpose = purposeOfInstance(ctx, inst);
  if (!isServing(inst.state) || inst.ownerId !== userId) {
    throw new PoolError("INSTANCE_NOT_RUNNING", `Instance "${id}" is ${inst.state}; claim a new one.`);
  }
  const idleDeadline = now + (await ctx.policies.idleTimeoutMs(userId, purpose, now));
  const ok = await updateInstance(ctx.db, id, { idleDeadline, updatedAt: now }, guard);
  if (!ok) throw new PoolError("INSTANCE_NOT_RUNNING", `Instance "${id}" was released meanwhile; claim a new one.`);
  ctx.metrics.heartbeats.inc();
  return { idleDeadline };
}

/** Releases a held instance: it leaves the user at once and is terminated by the lifecycle loop. */
export async function releaseInstance(
  ctx: PoolContext,
  instance: Pick<Instance, "id" | "ownerId" | "purpose">,
  reason: string,
  actor: string,
  /** The reaper: only if the idle deadline has still passed (a heartbeat during the busy check wins). */
  guard: { idleDeadlineAtMost?: number } = {},
): Promise<boolean> {
  const now = ctx.clock.now();
  return transition(ctx, instance.id, {
    from: SERVING_STATES,
    to: "releasing",
    idleDeadlineAtMost: guard.idleDeadlineAtMost,
    patch: { stateReason: reason, ownerId: null, idleDeadline: null, updatedAt: now },
    event: {
      userId: instance.ownerId,
      purpose: instance.purpose,
      kind: reason === "idle" ? "reaped" : reason === "max-lifetime" ? "expired" : "released",
      reason,
      actor,
    },
    log: { msg: "instance released", fields: { userId: instance.ownerId, reason, actor } },
  });
}

export async function releaseOwned(ctx: PoolContext, userId: string, id: string): Promise<Instance> {
  const inst = await getOwnedInstance(ctx, userId, id);
  if (inst.ownerId !== userId || !isServing(inst.state)) {
    // Releasing what already ended is a no-op that reports the current state.
    return inst;
  }
  await releaseInstance(ctx, inst, "user", `user:${userId}`);
  return (await getInstance(ctx.db, id)) ?? inst;
}

export async function connectOwned(ctx: PoolContext, userId: string, id: string, localPort?: number, app?: AppName): Promise<ConnectionResponse> {
  const inst = await getOwnedInstance(ctx, userId, id);
  const purpose = purposeOfInstance(ctx, inst);
  if (inst.ownerId !== userId || inst.state !== "running") {
    const hint = inst.state === "launching" || inst.state === "booting" ? "wait until it is running" : "claim a new one";
    throw new PoolError("INSTANCE_NOT_RUNNING", `Instance "${id}" is ${inst.state}; ${hint}.`);
  }
  return ctx.provider.connect(toRef(inst), purpose, { userId, localPort, app });
}
