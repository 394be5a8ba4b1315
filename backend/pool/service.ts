/**
 * The pool: one object that owns the context and the lifecycle loop, and implements the
 * facade the HTTP layer is given (PoolApi, see api.ts). Every state change goes to the
 * database first; the loop is kicked afterwards so launches and terminations start at once.
 * `ctx`, `db` and `loop` are for the composition root, the CLI and tests, never for routes.
 */
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { AppName } from "../config/apps";
import type { PoolConfig, PurposeConfig } from "../config/schema";
import type { Provider } from "../providers/types";
import type { Store } from "../store/db";
import { SERVING_STATES, type ConnectionResponse } from "../../contract";
import { buildReport, type CostReport, type ReportRequest } from "../cost/report";
import { getInstance, listInStates, type Instance } from "../store/instances";
import { countsByState } from "../store/stats";
import { userForTokenHash, type TokenOwner } from "../store/users";
import type { PoolApi } from "./api";
import { ensurePurposeRows } from "../store/purpose-locks";
import { recordConfiguredPrices } from "../store/purpose-prices";
import type { Database } from "../store/schema";
import { claimInstance, type ClaimOutcome } from "./claims";
import { defaultPurpose, purposeOf, staticPolicies, systemClock, type Clock, type PoolContext, type PoolPolicies } from "./context";
import { LifecycleLoop } from "./lifecycle/loop";
import { ObservationLoop } from "./observations";
import { findByLegacyId } from "./legacy-ids";
import { warnAtStartup } from "./startup-checks";
import { createMetrics, registerStatementCounts, type PoolMetrics } from "./metrics";
import { connectOwned, getOwnedInstance, heartbeat, listUserInstances, releaseInstance, releaseOwned } from "./user-instances";
import { silentLogger } from "../log";
import { endOwnedSession, resumeOwnedSession } from "./ssm-sessions";
import { adminEvents, adminInstances, type AdminInstance, type EventFilter, type EventPage } from "./admin-views";
import type { JobLogChunk, JobView, KeepAliveRequest, KeepAliveView } from "../../contract/jobs";
import type { JobsContext } from "../jobs/context";
import { endKeepAlive, getKeepAlive, setKeepAlive } from "../jobs/keep-alive";
import { JobsLoop } from "../jobs/loop";
import { createJobRunners, type JobRunnerHooks, type JobRunners } from "../jobs/runners";
import { cancelJob, getJobView, listJobs, readJobLog, submit } from "../jobs/service";
import type { JobRequestBody } from "../jobs/submit";

/** How long a warm claim's tick may wait for other claims to share it. */
export const CLAIM_TICK_DELAY_MS = 50;

export interface PoolOptions {
  config: PoolConfig;
  store: Store;
  provider: Provider;
  clock?: Clock;
  log?: Logger;
  metrics?: PoolMetrics;
  policies?: PoolPolicies;
  /** Job runners (default: chosen by the provider's kind; see backend/jobs/runners/index.ts). */
  jobRunners?: JobRunners;
  /** The EC2 SSM and ECS runners, wired by the composition root. */
  jobRunnerHooks?: JobRunnerHooks;
  /** Period of the jobs loop (default 1 s). */
  jobsPeriodMs?: number;
}

export class Pool implements PoolApi {
  readonly ctx: PoolContext;
  readonly loop: LifecycleLoop;
  /** Beside the loop: what the provider observes of the live instances (spot warnings). */
  readonly observations: ObservationLoop;
  /** Beside the loop: batch jobs and keep-alive holds (issue #18). */
  readonly jobs: JobsLoop;
  readonly jobsCtx: JobsContext;

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
    if (options.store.statements) registerStatementCounts(this.ctx.metrics.registry, options.store.statements);
    this.loop = new LifecycleLoop(this.ctx);
    this.observations = new ObservationLoop(this.ctx, { holdsLease: () => this.loop.holdsLease(), kick: () => this.loop.kick() });
    this.jobsCtx = {
      ...this.ctx,
      runners: options.jobRunners ?? createJobRunners(options.provider, options.config.dataDir, options.jobRunnerHooks),
      kickLifecycle: () => this.loop.kick(),
    };
    this.jobs = new JobsLoop(this.jobsCtx, { holdsLease: () => this.loop.holdsLease() }, options.jobsPeriodMs);
  }

  get db(): Kysely<Database> {
    return this.ctx.db;
  }

  get config(): PoolConfig {
    return this.ctx.config;
  }

  get metrics(): PoolMetrics {
    return this.ctx.metrics;
  }

  now(): number {
    return this.ctx.clock.now();
  }

  /** Makes sure every configured purpose has its lock row. Call once after migrating. */
  async prepare(): Promise<void> {
    await ensurePurposeRows(this.ctx.db, this.ctx.config.purposes.map((p) => p.name), this.ctx.clock.now());
    // A changed `hourlyPrice` applies from now on, also to instances already running.
    const changed = await recordConfiguredPrices(this.ctx.db, this.ctx.config.purposes.map((p) => ({ purpose: p.name, hourlyPrice: p.hourlyPrice ?? null })), this.ctx.clock.now());
    if (changed.length) this.ctx.log.info({ event: "purpose-prices", changes: changed }, "configured purpose prices recorded");
    await warnAtStartup(this.ctx);
  }

  purpose(name?: string | null): PurposeConfig {
    return name ? purposeOf(this.ctx, name) : defaultPurpose(this.ctx.config);
  }

  async claim(userId: string, purposeName?: string | null, actor?: string): Promise<ClaimOutcome> {
    const outcome = await claimInstance(this.ctx, userId, this.purpose(purposeName), actor);
    // A launch starts at once; a warm claim's follow-ups (the hand-over, a new spare) wait a
    // moment, so a burst of claims shares one tick.
    if (outcome.source === "launched") this.loop.kick();
    else if (outcome.source === "warm") this.loop.kick(CLAIM_TICK_DELAY_MS);
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
    // Releases come in bursts too (the end of a class): their terminations share a tick.
    this.loop.kick(CLAIM_TICK_DELAY_MS);
    return inst;
  }

  /** Releases any instance (trusted callers: the old protocol's proxy, admins). */
  async releaseAny(id: string, reason: string, actor: string): Promise<Instance | null> {
    const inst = await findByLegacyId(this.ctx.db, id);
    if (!inst) return null;
    await releaseInstance(this.ctx, inst, reason, actor);
    this.loop.kick();
    return getInstance(this.ctx.db, inst.id);
  }

  connect(userId: string, id: string, localPort?: number, app?: AppName): Promise<ConnectionResponse> {
    return connectOwned(this.ctx, userId, id, localPort, app);
  }

  purposePrices(): Promise<Array<{ purpose: PurposeConfig; hourlyPrice: number | null }>> {
    const { provider, config } = this.ctx;
    return Promise.all(config.purposes.map(async (p) => ({ purpose: p, hourlyPrice: await provider.priceOf(p).catch(() => p.hourlyPrice ?? null) })));
  }

  listServing(): Promise<Instance[]> {
    return listInStates(this.ctx.db, SERVING_STATES);
  }

  /** By the pool's id, or (as the old service answered) the EC2 instance id. */
  getAny(id: string): Promise<Instance | null> {
    return findByLegacyId(this.ctx.db, id);
  }

  costReport(request: ReportRequest): Promise<CostReport> {
    return buildReport(this.ctx.db, this.ctx.config, request, this.ctx.clock.now());
  }

  userForTokenHash(hash: string): Promise<TokenOwner | null> {
    return userForTokenHash(this.ctx.db, hash);
  }

  async metricsText(): Promise<{ contentType: string; text: string }> {
    const { metrics, db } = this.ctx;
    metrics.poolSize.reset();
    for (const row of await countsByState(db)) {
      metrics.poolSize.set({ purpose: row.purpose, state: row.state, assigned: row.assigned ? "yes" : "no" }, row.count);
    }
    return { contentType: metrics.registry.contentType, text: await metrics.registry.metrics() };
  }

  resumeSession(userId: string, id: string, sessionId: string) {
    return resumeOwnedSession(this.ctx, userId, id, sessionId);
  }

  endSession(userId: string, id: string, sessionId: string) {
    return endOwnedSession(this.ctx, userId, id, sessionId);
  }

  /** Every live instance with owner, state, idle deadline and cost so far (admins only). */
  adminInstances(): Promise<AdminInstance[]> {
    return adminInstances(this.ctx.db, this.ctx.config, this.ctx.clock.now());
  }

  /** One page of the history (admins only); the filter comes from `parseEventFilter`. */
  adminEvents(filter: EventFilter): Promise<EventPage> {
    return adminEvents(this.ctx.db, filter);
  }

  async submitJob(userId: string, request: JobRequestBody): Promise<JobView> {
    const view = await submit(this.jobsCtx, userId, request);
    this.jobs.kick();
    return view;
  }

  listJobs(userId: string): Promise<JobView[]> {
    return listJobs(this.jobsCtx, userId);
  }

  getJob(userId: string, id: string): Promise<JobView> {
    return getJobView(this.jobsCtx, userId, id);
  }

  jobLog(userId: string, id: string, offset: number): Promise<JobLogChunk> {
    return readJobLog(this.jobsCtx, userId, id, offset);
  }

  async cancelJob(userId: string, id: string): Promise<JobView> {
    const view = await cancelJob(this.jobsCtx, userId, id);
    this.jobs.kick();
    return view;
  }

  setKeepAlive(userId: string, instanceId: string, request: KeepAliveRequest): Promise<KeepAliveView> {
    return setKeepAlive(this.jobsCtx, userId, instanceId, request);
  }

  getKeepAlive(userId: string, instanceId: string): Promise<KeepAliveView> {
    return getKeepAlive(this.jobsCtx, userId, instanceId);
  }

  endKeepAlive(userId: string, instanceId: string): Promise<KeepAliveView> {
    return endKeepAlive(this.jobsCtx, userId, instanceId);
  }

  start(): void {
    this.loop.start();
    this.observations.start();
    this.jobs.start();
  }

  async stop(): Promise<void> {
    await this.jobs.stop();
    await this.observations.stop();
    await this.loop.stop();
  }
}
