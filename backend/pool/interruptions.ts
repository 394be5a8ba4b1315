/**
 * What the pool does when its provider warns that it takes an instance back (a spot
 * interruption: EC2 gives two minutes) or recommends moving off one (a rebalance
 * recommendation). Driven by provider observations (`Provider.observe`); each handler is
 * idempotent, because a queue may deliver the same news twice and several replicas may read it.
 *
 * On a warning, in one transaction under the purpose's lock: the instance becomes
 * `interrupting` and leaves its owner (so the owner may hold a new one), and when it had an
 * owner a replacement launch is created for them at once, with the same idle deadline rules.
 * The `interrupting` step then takes the user's things off the old instance (suspended R
 * sessions and the home volume, already flushed and unmounted by the instance's own watcher),
 * so the replacement can attach the home, and hands the old one to the terminate step. The old
 * instance stays billed to its user until it is gone (the ledger bills by last owner until the
 * end), and the history tells the whole story.
 */
import type { PurposeConfig } from "../config/schema";
import { findLiveByProviderId, type Instance } from "../store/instances";
import { lockPurpose } from "../store/purpose-locks";
import type { InstanceObservation } from "../providers/types";
import { newLaunchRow } from "./claims";
import type { PoolContext } from "./context";
import { changeWithEvent, createInstance, transition } from "./transitions";

export type RebalancePolicy = "ignore" | "warn" | "move-when-idle";

export interface ObservationOutcome {
  /** What was done: nothing (not ours, or already handled), or which change. */
  action: "none" | "interrupting" | "warned" | "kick";
  instanceId?: string;
  replacementId?: string;
}

function purposeOrNull(ctx: PoolContext, name: string): PurposeConfig | null {
  return ctx.config.purposes.find((p) => p.name === name) ?? null;
}

export async function applyObservation(ctx: PoolContext, o: InstanceObservation): Promise<ObservationOutcome> {
  if (o.kind === "state-change") return { action: "kick" }; // the reconciler reads the details
  const found = await findLiveByProviderId(ctx.db, o.providerId);
  if (!found) return { action: "none" };
  const purpose = purposeOrNull(ctx, found.purpose);
  if (o.kind === "rebalance-recommendation") return rebalance(ctx, found, purpose, o.at);
  return interruptionWarning(ctx, found, purpose, o);
}

/** The owner's new idle deadline on the replacement, computed before the transaction. */
async function idleMsFor(ctx: PoolContext, inst: Instance, purpose: PurposeConfig | null): Promise<number | null> {
  if (!inst.ownerId || !purpose) return null;
  return ctx.policies.idleTimeoutMs(inst.ownerId, purpose, ctx.clock.now());
}

async function interruptionWarning(
  ctx: PoolContext,
  found: Instance,
  purpose: PurposeConfig | null,
  o: Extract<InstanceObservation, { kind: "interruption-warning" }>,
): Promise<ObservationOutcome> {
  if (found.state !== "running" && found.state !== "booting") return { action: "none" };
  const idleMs = await idleMsFor(ctx, found, purpose);
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.clock.now();
    await lockPurpose(trx, found.purpose, now);
    // Under the lock, the row as it is now: a claim, a release or another replica may have moved it.
    const inst = await findLiveByProviderId(trx, o.providerId);
    if (!inst || (inst.state !== "running" && inst.state !== "booting")) return { action: "none" as const };
    const owner = inst.ownerId;
    // A replacement only for an owner, and only while the purpose still exists. It may take the
    // pool one over its maximum for the two minutes both exist: the user is not the one to wait.
    const replacement = owner && purpose && idleMs !== null ? newLaunchRow(ctx, purpose, now, owner, now + idleMs) : null;
    if (replacement) replacement.details = { replaces: inst.id };
    const moved = await transition(
      ctx,
      inst.id,
      {
        from: inst.state,
        to: "interrupting",
        ownerId: owner,
        patch: {
          stateReason: "spot-interruption-warning",
          ownerId: null,
          idleDeadline: null,
          updatedAt: now,
          details: { ...inst.details, interruptionDeadline: o.deadline, ...(replacement ? { replacementId: replacement.id } : {}) },
        },
        event: {
          kind: "interruption-warning",
          userId: owner,
          purpose: inst.purpose,
          reason: `provider: ${o.action} at ${new Date(o.deadline).toISOString()}`,
          actor: "provider",
          details: { providerId: o.providerId, warnedAt: o.at, deadline: o.deadline, replacementId: replacement?.id ?? null },
        },
        log: {
          level: "warn",
          msg: "the provider takes this instance back soon",
          fields: { providerId: o.providerId, userId: owner, replacementId: replacement?.id ?? null, deadline: new Date(o.deadline).toISOString() },
        },
      },
      trx,
    );
    if (!moved) return { action: "none" as const };
    if (replacement) {
      await createInstance(
        ctx,
        replacement,
        [
          { kind: "launch-requested", userId: owner, purpose: inst.purpose, reason: "interruption-replacement", actor: "provider", details: { replaces: inst.id } },
          { kind: "assigned", userId: owner, purpose: inst.purpose, reason: "replacement", actor: "provider", details: { replaces: inst.id } },
        ],
        trx,
        { msg: "replacement launch for an interrupted instance", fields: { replaces: inst.id, userId: owner } },
      );
    }
    return { action: "interrupting" as const, instanceId: inst.id, replacementId: replacement?.id };
  });
}

/**
 * A rebalance recommendation: the purpose says whether it is ignored, only told to the user
 * (stateReason, which the tree shows), or acted on early while the user is idle, which is the
 * interruption path started by the pool itself before EC2 forces it.
 */
async function rebalance(ctx: PoolContext, inst: Instance, purpose: PurposeConfig | null, at: number): Promise<ObservationOutcome> {
  const policy: RebalancePolicy = purpose?.rebalance ?? "warn";
  if (policy === "ignore" || inst.state !== "running" || inst.details.rebalanceAt !== undefined) return { action: "none" };
  const now = ctx.clock.now();
  // Idle: no heartbeat for half the idle timeout (the deadline is pushed on by each heartbeat).
  const idleTimeoutMs = (purpose?.idleTimeoutSeconds ?? 3600) * 1000;
  const idle = inst.ownerId !== null && inst.idleDeadline !== null && inst.idleDeadline - now < idleTimeoutMs / 2;
  if (policy === "move-when-idle" && (idle || inst.ownerId === null)) {
    return interruptionWarning(ctx, inst, purpose, { kind: "interruption-warning", providerId: inst.providerId!, at, action: "rebalance-move", deadline: now });
  }
  const ok = await changeWithEvent(
    ctx,
    inst.id,
    { details: { ...inst.details, rebalanceAt: at }, stateReason: "rebalance-recommended", updatedAt: now },
    { states: ["running"] },
    { kind: "rebalance-recommendation", userId: inst.ownerId, purpose: inst.purpose, reason: policy, actor: "provider", details: { providerId: inst.providerId, at } },
    { level: "warn", msg: "the provider recommends moving off this instance", fields: { providerId: inst.providerId, policy } },
  );
  return ok ? { action: "warned", instanceId: inst.id } : { action: "none" };
}
