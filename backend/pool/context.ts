/**
 * What every pool operation is given: the database, the configuration, the provider, a clock,
 * a logger, metrics and the pluggable policies (budgets, warm-pool targets). Built once in
 * `createPool` and passed down, so tests swap any part.
 */
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { PoolConfig, PurposeConfig } from "../config/schema";
import { PoolError } from "../errors";
import type { Provider } from "../providers/types";
import type { Dialect } from "../store/db";
import type { Database } from "../store/schema";
import type { PoolMetrics } from "./metrics";

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Decisions that depend on money and demand; the defaults are the simple static rules. */
export interface PoolPolicies {
  /**
   * Throws PoolError BUDGET_EXCEEDED (or another code) to refuse a claim before anything changes.
   * `db` is the claim's transaction: read through it (SQLite has one connection, held by it).
   */
  checkClaimAllowed(userId: string, purpose: PurposeConfig, now: number, db?: Kysely<Database>): Promise<void>;
  /** The idle timeout a heartbeat extends by, for this user and purpose. */
  idleTimeoutMs(userId: string, purpose: PurposeConfig, now: number): Promise<number>;
  /** How many free instances of the purpose should be kept warm now. */
  warmTarget(purpose: PurposeConfig, now: number): Promise<number>;
}

export const staticPolicies: PoolPolicies = {
  async checkClaimAllowed() {},
  async idleTimeoutMs(_user, purpose) {
    return purpose.idleTimeoutSeconds * 1000;
  },
  async warmTarget(purpose) {
    return purpose.minFree;
  },
};

export interface PoolContext {
  db: Kysely<Database>;
  dialect: Dialect;
  config: PoolConfig;
  provider: Provider;
  clock: Clock;
  log: Logger;
  metrics: PoolMetrics;
  policies: PoolPolicies;
}

export function purposeOf(ctx: Pick<PoolContext, "config">, name: string): PurposeConfig {
  const p = ctx.config.purposes.find((x) => x.name === name);
  if (!p) {
    const known = ctx.config.purposes.map((x) => x.name).join(", ");
    throw new PoolError("UNKNOWN_PURPOSE", `Unknown purpose "${name}". Known purposes: ${known}.`);
  }
  return p;
}

/** The configured purpose of that name, or null when the configuration no longer has it. */
export function configuredPurpose(ctx: Pick<PoolContext, "config">, name: string): PurposeConfig | null {
  return ctx.config.purposes.find((x) => x.name === name) ?? null;
}

/**
 * The purpose of an existing instance, for operations that serve its user. An instance whose
 * purpose was removed from the configuration is being released (the lifecycle's retire step):
 * its user gets PURPOSE_REMOVED, not a confusing UNKNOWN_PURPOSE about their own request.
 */
export function purposeOfInstance(ctx: Pick<PoolContext, "config">, inst: { id: string; purpose: string }): PurposeConfig {
  const p = configuredPurpose(ctx, inst.purpose);
  if (!p) {
    throw new PoolError(
      "PURPOSE_REMOVED",
      `Instance "${inst.id}" belongs to purpose "${inst.purpose}", which is no longer configured; the pool is releasing it. Claim an instance of another purpose.`,
    );
  }
  return p;
}

export function defaultPurpose(config: PoolConfig): PurposeConfig {
  return config.purposes[0]!;
}
