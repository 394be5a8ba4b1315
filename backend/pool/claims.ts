/**
 * Claiming: the user's own serving instance if they have one (one read, nothing written), else
 * a warm free instance (one guarded UPDATE and its event), else, under the purpose's lock row,
 * a spare still starting or a new launch while the purpose and the pool are under their
 * maximum, else POOL_EXHAUSTED. Concurrent claims (from any number of replicas) never share an
 * instance (the guarded UPDATE) or give one user two (the unique index instances_one_serving,
 * and the lock for launches).
 */
import type { Kysely } from "kysely";
import type { PurposeConfig } from "../config/schema";
import { PoolError } from "../errors";
import { recordEvent, type NewEvent } from "../store/events";
import { claimFreeRunning, countLive, findFreeStarting, findServingByOwner, isUniqueViolation, updateInstance, type Instance, type ZoneRule } from "../store/instances";
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

export function newLaunchRow(ctx: PoolContext, purpose: PurposeConfig, now: number, ownerId: string | null, idleDeadline: number | null, jobId: string | null = null): Instance {
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
    jobId,
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

/** Who claims, and what they get: computed once, before any transaction. */
interface Claimant {
  userId: string;
  /** The batch job that takes the instance (issue #18), or null for the user's interactive claim. */
  jobId: string | null;
  actor: string;
  idleMs: number;
  zones: string[];
}

function assignedEvent(purpose: PurposeConfig, who: Claimant, now: number, instanceId: string, reason: string): NewEvent {
  return { at: now, instanceId, userId: who.userId, purpose: purpose.name, kind: "assigned", reason, actor: who.actor, details: who.jobId ? { jobId: who.jobId } : undefined };
}

/** The warm claim: one guarded UPDATE … RETURNING and its event (null: no spare is free). */
async function takeWarm(ctx: PoolContext, trx: Kysely<Database>, purpose: PurposeConfig, who: Claimant, now: number): Promise<ClaimOutcome | null> {
  // The user's home is in these zones: where homes cannot move, a spare elsewhere would give them a new, empty home.
  const zones: ZoneRule | undefined = who.zones.length ? { zones: who.zones, mode: ctx.provider.handOverOnlyInPreferredZones ? "only" : "prefer" } : undefined;
  const inst = await claimFreeRunning(trx, purpose.name, { ownerId: who.userId, jobId: who.jobId, now, idleDeadline: now + who.idleMs }, zones);
  if (!inst) return null;
  await recordEvent(trx, assignedEvent(purpose, who, now, inst.id, "warm"));
  return { instance: inst, source: "warm" };
}

/**
 * No running spare was free: under the purpose's lock (its `max` needs it), the user's own
 * instance once more (their other claim may have won meanwhile), a spare that became ready
 * since, a spare still starting, or a new launch while the purpose and the pool have room.
 */
async function claimUnderLock(ctx: PoolContext, trx: Kysely<Database>, purpose: PurposeConfig, who: Claimant): Promise<ClaimOutcome> {
  const now = ctx.clock.now();
  const userId = who.userId;
  await lockPurpose(trx, purpose.name, now);
  if (who.jobId === null) {
    const existing = await findServingByOwner(trx, userId, purpose.name);
    if (existing) return { instance: existing, source: "existing" };
  }
  const warm = await takeWarm(ctx, trx, purpose, who, now);
  if (warm) return warm;

  // Without room for a launch, a spare still starting is better than a refusal: the user waits for its boot.
  const takeStarting = async (): Promise<ClaimOutcome | null> => {
    const starting = await findFreeStarting(trx, purpose.name);
    if (!starting) return null;
    const patch = { ownerId: userId, lastOwnerId: userId, jobId: who.jobId, assignedAt: now, idleDeadline: now + who.idleMs, updatedAt: now };
    if (!(await updateInstance(trx, starting.id, patch, { states: ["launching", "booting"], ownerId: null }))) return null;
    await recordEvent(trx, assignedEvent(purpose, who, now, starting.id, "warm-starting"));
    return { instance: { ...starting, ...patch }, source: "warm" };
  };
  // A launch needs room in the purpose (held by its lock) and in the whole pool (its own lock).
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
  const row = newLaunchRow(ctx, purpose, now, userId, now + who.idleMs, who.jobId);
  await createInstance(
    ctx,
    row,
    [
      { at: now, userId, purpose: purpose.name, kind: "launch-requested", reason: who.jobId ? "job" : "claim", actor: who.actor, details: who.jobId ? { jobId: who.jobId } : undefined },
      assignedEvent(purpose, who, now, row.id, "launch"),
    ],
    trx,
  );
  return { instance: row, source: "launched" };
}

export interface ClaimOptions {
  /**
   * Claim for this batch job (issue #18): never the user's own interactive instance, only a
   * free spare or a launch, and the row records the job (`job_id`), so the user's interactive
   * claims never return it. The same purpose and pool maxima and budget checks apply.
   */
  jobId?: string;
}

export async function claimInstance(ctx: PoolContext, userId: string, purpose: PurposeConfig, actor = `user:${userId}`, options?: ClaimOptions): Promise<ClaimOutcome> {
  const started = process.hrtime.bigint();
  try {
    const outcome = await claim(ctx, userId, purpose, actor, options?.jobId ?? null);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    ctx.metrics.claims.inc({ purpose: purpose.name, source: outcome.source });
    ctx.metrics.claimSeconds.observe({ purpose: purpose.name, source: outcome.source }, seconds);
    if (outcome.source !== "existing") {
      ctx.log.info({ event: "claim", userId, purpose: purpose.name, instanceId: outcome.instance.id, source: outcome.source, ...(options?.jobId ? { jobId: options.jobId } : {}) }, "instance claimed");
    }
    return outcome;
  } catch (err) {
    if (err instanceof PoolError) ctx.metrics.claimsRefused.inc({ purpose: purpose.name, code: err.code });
    throw err;
  }
}

/**
 * A repeat claim (the editor reopening, a second window) finds the user's own instance with one
 * plain read and writes nothing. A warm claim is one guarded UPDATE and its event, without the
 * purpose's lock. Only when no running spare is free does the claim take the lock.
 */
async function claim(ctx: PoolContext, userId: string, purpose: PurposeConfig, actor: string, jobId: string | null): Promise<ClaimOutcome> {
  if (jobId === null) {
    const existing = await findServingByOwner(ctx.db, userId, purpose.name);
    if (existing) return { instance: existing, source: "existing" };
  }
  const now = ctx.clock.now();
  const who: Claimant = { userId, jobId, actor, idleMs: await ctx.policies.idleTimeoutMs(userId, purpose, now), zones: await preferredZones(ctx, userId, purpose) };
  // Refused before anything is written (a user past budget still gets their own instance, above).
  await ctx.policies.checkClaimAllowed(userId, purpose, now);
  try {
    const warm = await ctx.db.transaction().execute((trx) => takeWarm(ctx, trx, purpose, who, now));
    if (warm) return warm;
    return await ctx.db.transaction().execute((trx) => claimUnderLock(ctx, trx, purpose, who));
  } catch (err) {
    // The user's other claim won a race to the unique index instances_one_serving: its instance is the answer.
    if (jobId === null && isUniqueViolation(err)) {
      const existing = await findServingByOwner(ctx.db, userId, purpose.name);
      if (existing) return { instance: existing, source: "existing" };
    }
    throw err;
  }
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
