/**
 * The pool as the API and the CLI see it: one object that owns the context and the lifecycle
 * loop, and exposes the user-facing operations. Every state change goes to the database
 * first; the loop is kicked afterwards so launches and terminations start at once.
 */
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { PoolConfig, PurposeConfig } from "../config/schema";
import type { Provider } from "../providers/types";
import type { Store } from "../store/db";
import { ensurePurposeRows, getInstance, type Instance } from "../store/instances";
import type { Database } from "../store/schema";
import { claimInstance, type ClaimOutcome } from "./claims";
import { defaultPurpose, purposeOf, staticPolicies, systemClock, type Clock, type PoolContext, type PoolPolicies } from "./context";
import { LifecycleLoop } from "./lifecycle/loop";
import { createMetrics, type PoolMetrics } from "./metrics";
import { connectOwned, getOwnedInstance, heartbeat, listUserInstances, releaseInstance, releaseOwned } from "./user-instances";
import { silentLogger } from "../log";
import { adminEvents, adminInstances, type AdminInstance, type EventFilter, type EventPage } from "./admin-views";

export interface PoolOptions {
  config: PoolConfig;
  store: Store;
  provider: Provider;
  clock?: Clock;
  log?: Logger;
  metrics?: PoolMetrics;
  policies?: PoolPolicies;
}

export class Pool {
  readonly ctx: PoolContext;
  readonly loop: LifecycleLoop;

  constructor(options: PoolOptions) {
    this.ctx = {
      db: options.store.db,
      dialect: options.store.dialect,
      config: options.config,
      provider: options.provider,
      clock: options.clock ?? systemClock,
      log: options.log ?? silentLogger(),
      metrics: options.metrics ?? createMetrics(),
      policies: options.policies ?? staticPolicies,
    };
    this.loop = new LifecycleLoop(this.ctx);
  }

  get db(): Kysely<Database> {
    return this.ctx.db;
  }

  get config(): PoolConfig {
    return this.ctx.config;
  }

  /** Makes sure every configured purpose has its lock row. Call once after migrating. */
  async prepare(): Promise<void> {
    await ensurePurposeRows(this.ctx.db, this.ctx.config.purposes.map((p) => p.name), this.ctx.clock.now());
  }

  purpose(name?: string | null): PurposeConfig {
    return name ? purposeOf(this.ctx, name) : defaultPurpose(this.ctx.config);
  }

  async claim(userId: string, purposeName?: string | null, actor?: string): Promise<ClaimOutcome> {
    const outcome = await claimInstance(this.ctx, userId, this.purpose(purposeName), actor);
    if (outcome.source !== "existing") this.loop.kick();
    return outcome;
  }

  listMine(userId: string): Promise<Instance[]> {
    return listUserInstances(this.ctx, userId);
  }

  getMine(userId: string, id: string): Promise<Instance> {
    return getOwnedInstance(this.ctx, userId, id);
  }

  heartbeat(userId: string, id: string): Promise<{ idleDeadline: number }> {
    return heartbeat(this.ctx, userId, id);
  }

  async release(userId: string, id: string): Promise<Instance> {
    const inst = await releaseOwned(this.ctx, userId, id);
    this.loop.kick();
    return inst;
  }

  /** Releases any instance (trusted callers: the old protocol's proxy, admins). */
  async releaseAny(id: string, reason: string, actor: string): Promise<Instance | null> {
    const inst = await getInstance(this.ctx.db, id);
    if (!inst) return null;
    await releaseInstance(this.ctx, inst, reason, actor);
    this.loop.kick();
    return getInstance(this.ctx.db, id);
  }

  connect(userId: string, id: string, localPort?: number) {
    return connectOwned(this.ctx, userId, id, localPort);
  }

  /** Every live instance with owner, state, idle deadline and cost so far (admins only). */
  adminInstances(): Promise<AdminInstance[]> {
    return adminInstances(this.ctx.db, this.ctx.config, this.ctx.clock.now());
  }

  /** One page of the history (admins only); the filter comes from `parseEventFilter`. */
  adminEvents(filter: EventFilter): Promise<EventPage> {
    return adminEvents(this.ctx.db, filter);
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
