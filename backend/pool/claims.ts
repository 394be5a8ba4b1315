/**
 * Claiming: the user's own serving instance if they have one, else a warm free instance, else a
 * new launch while the purpose and the pool are under their maximum, else POOL_EXHAUSTED.
 * The whole decision runs in one transaction that holds the purpose's lock row, so concurrent
 * claims (from any number of replicas) never share an instance or give one user two.
 */
import type { Kysely } from "kysely";
import type { PurposeConfig } from "../config/schema";
import { PoolError } from "../errors";
import { recordEvent } from "../store/events";
import { countLive, findFreeRunning, findFreeStarting, findServingByOwner, updateInstance, type Instance } from "../store/instances";
import { lockPurpose, POOL_LOCK } from "../store/purpose-locks";
import type { Database } from "../store/schema";
import type { PoolContext } from "./context";
import { newInstanceId } from "./ids";
import { createInstance } from "./transitions";

export type ClaimSource = "existing" | "warm" | "launched";

export interface ClaimOutcome {
  instance: Instance;
  source: ClaimSource;
}

export function newLaunchRow(ctx: PoolContext, purpose: PurposeConfig, now: number, ownerId: string | null, idleDeadline: number | null): Instance {
  return {
    id: newInstanceId(),
    purpose: purpose.name,
    provider: ctx.provider.kind,
    providerId: null,
    state: "launching",
    stateReason: null,
    ownerId,
    lastOwnerId: ownerId,
    instanceType: null,
    market: null,
    hourlyPrice: null,
    availabilityZone: null,
    privateDns: null,
    details: {},
    handedOverTo: null,
    jobId: null,
    launchAttempts: 0,
    nextAttemptAt: now,
    launchedAt: now,
    runningAt: null,
    assignedAt: ownerId ? now : null,
    idleDeadline,
    endedAt: null,
    updatedAt: now,
  };
}

async function claimInTransaction(
  ctx: PoolContext,
  trx: Kysely<Database>,
  userId: string,
  purpose: PurposeConfig,
  idleMs: number,
  actor: string,
  zones: string[],
): Promise<ClaimOutcome> {
  const now = ctx.clock.now();
  await lockPurpose(trx, purpose.name, now);

  const existing = await findServingByOwner(trx, userId, purpose.name);
  if (existing) return { instance: existing, source: "existing" };

  await ctx.policies.checkClaimAllowed(userId, purpose, now, trx);

  let free = await findFreeRunning(trx, purpose.name, zones);
  // The user's home is in these zones: a spare elsewhere would give them a new, empty home.
  if (free && zones.length && ctx.provider.handOverOnlyInPreferredZones && !zones.includes(free.availabilityZone ?? "")) free = null;
  if (free) {
    const deadline = now + idleMs;
    const patch = { ownerId: userId, lastOwnerId: userId, assignedAt: now, idleDeadline: deadline, updatedAt: now };
    const won = await updateInstance(trx, free.id, patch, { states: ["running"], ownerId: null });
    if (won) {
      await recordEvent(trx, { at: now, instanceId: free.id, userId, purpose: purpose.name, kind: "assigned", reason: "warm", actor });
      return { instance: { ...free, ...patch }, source: "warm" };
    }
  }

  // A launch needs room in the purpose (held by its lock) and in the whole pool (its own lock).
  // Without room, a spare still starting is better than a refusal: the user waits for its boot.
  const takeStarting = async (): Promise<ClaimOutcome | null> => {
    const starting = await findFreeStarting(trx, purpose.name);
    if (!starting) return null;
    const deadline = now + idleMs;
    const patch = { ownerId: userId, lastOwnerId: userId, assignedAt: now, idleDeadline: deadline, updatedAt: now };
    if (!(await updateInstance(trx, starting.id, patch, { states: ["launching", "booting"], ownerId: null }))) return null;
    await recordEvent(trx, { at: now, instanceId: starting.id, userId, purpose: purpose.name, kind: "assigned", reason: "warm-starting", actor });
    return { instance: { ...starting, ...patch }, source: "warm" };
  };
  const livePurpose = await countLive(trx, purpose.name);
  if (livePurpose >= purpose.max) {
    const taken = await takeStarting();
    if (taken) return taken;
    throw new PoolError(
      "POOL_EXHAUSTED",
      `No instance of "${purpose.name}" is free and the purpose is at its maximum of ${purpose.max}. Try again later or ask an admin to raise the limit.`,
    );
  }
  await lockPurpose(trx, POOL_LOCK, now);
  const livePool = await countLive(trx);
  if (livePool >= ctx.config.maxInstances) {
    const taken = await takeStarting();
    if (taken) return taken;
    throw new PoolError(
      "POOL_EXHAUSTED",
      `The pool is at its maximum of ${ctx.config.maxInstances} instances. Try again later or ask an admin to raise the limit.`,
    );
  }
  const row = newLaunchRow(ctx, purpose, now, userId, now + idleMs);
  await createInstance(
    ctx,
    row,
    [
      { at: now, userId, purpose: purpose.name, kind: "launch-requested", reason: "claim", actor },
      { at: now, userId, purpose: purpose.name, kind: "assigned", reason: "launch", actor },
    ],
    trx,
  );
  return { instance: row, source: "launched" };
}

export async function claimInstance(ctx: PoolContext, userId: string, purpose: PurposeConfig, actor = `user:${userId}`): Promise<ClaimOutcome> {
  const started = process.hrtime.bigint();
  try {
    const outcome = await claim(ctx, userId, purpose, actor);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    ctx.metrics.claims.inc({ purpose: purpose.name, source: outcome.source });
    ctx.metrics.claimSeconds.observe({ purpose: purpose.name, source: outcome.source }, seconds);
    if (outcome.source !== "existing") {
      ctx.log.info({ event: "claim", userId, purpose: purpose.name, instanceId: outcome.instance.id, source: outcome.source }, "instance claimed");
    }
    return outcome;
  } catch (err) {
    if (err instanceof PoolError) ctx.metrics.claimsRefused.inc({ purpose: purpose.name, code: err.code });
    throw err;
  }
}

/**
 * A repeat claim (the editor reopening, a second window) finds the user's own instance with one
 * plain read and writes nothing. Only a user without one takes the purpose's lock, and then
 * looks again under it (a concurrent claim of theirs may have won meanwhile).
 */
async function claim(ctx: PoolContext, userId: string, purpose: PurposeConfig, actor: string): Promise<ClaimOutcome> {
  const existing = await findServingByOwner(ctx.db, userId, purpose.name);
  if (existing) return { instance: existing, source: "existing" };
  const idleMs = await ctx.policies.idleTimeoutMs(userId, purpose, ctx.clock.now());
  const zones = await preferredZones(ctx, userId, purpose);
  return ctx.db.transaction().execute((trx) => claimInTransaction(ctx, trx, userId, purpose, idleMs, actor, zones));
}

/** Asked outside the transaction (it may call the provider's API); a failure only loses the preference. */
async function preferredZones(ctx: PoolContext, userId: string, purpose: PurposeConfig): Promise<string[]> {
  if (!ctx.provider.preferredZones) return [];
  try {
    return await ctx.provider.preferredZones(userId, purpose);
  } catch (err) {
    ctx.log.warn({ event: "preferred-zones-failed", userId, purpose: purpose.name, err: (err as Error).message }, "could not read the user's zones; any warm instance will do");
    return [];
  }
}
