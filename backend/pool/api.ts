/**
 * What the HTTP layer may ask of the pool: the sealed facade. Routes are given a `PoolApi`,
 * never the `Pool` class, so they cannot reach its context, its provider or its store; each
 * thing a route needs is one method here, implemented by `Pool` (service.ts) by calling the
 * pool's modules.
 *
 * To add an operation (say an admin read): write it as a function over the PoolContext in its
 * own module, add its signature to one of the interfaces below (or a new one that PoolApi
 * extends), and add the one-line method to Pool that calls it.
 */
import type { AppName } from "../config/apps";
import type { PoolConfig, PurposeConfig } from "../config/schema";
import type { CostReport, ReportRequest } from "../cost/report";
import type { Instance } from "../store/instances";
import type { TokenOwner } from "../store/users";
import type { ConnectionResponse, EndSessionResponse, ResumeSessionResponse } from "../../contract";
import type { JobLogChunk, JobView, KeepAliveRequest, KeepAliveView } from "../../contract/jobs";
import type { JobRequestBody } from "../jobs/submit";
import type { AdminInstance, EventFilter, EventPage } from "./admin-views";
import type { ClaimOutcome } from "./claims";
import type { PoolMetrics } from "./metrics";

/** What a signed-in user does with their own instances (the /v1 routes). */
export interface UserOperations {
  claim(userId: string, purposeName?: string | null, actor?: string): Promise<ClaimOutcome>;
  listMine(userId: string): Promise<Instance[]>;
  getMine(userId: string, id: string): Promise<Instance>;
  heartbeat(userId: string, id: string): Promise<{ idleDeadline: number }>;
  release(userId: string, id: string): Promise<Instance>;
  connect(userId: string, id: string, localPort?: number, app?: AppName): Promise<ConnectionResponse>;
  /** Every configured purpose with its price per hour now (null when unknown). */
  purposePrices(): Promise<Array<{ purpose: PurposeConfig; hourlyPrice: number | null }>>;
  /** A new token for the owner's SSM session that the service closed (the native client's resume). */
  resumeSession(userId: string, id: string, sessionId: string): Promise<ResumeSessionResponse>;
  /** Ends the owner's SSM session. */
  endSession(userId: string, id: string, sessionId: string): Promise<EndSessionResponse>;
}

/** What trusted callers (the old protocol's app and proxy keys) do with any instance. */
export interface ServiceOperations {
  /** Every instance that serves or will serve its owner. */
  listServing(): Promise<Instance[]>;
  getAny(id: string): Promise<Instance | null>;
  releaseAny(id: string, reason: string, actor: string): Promise<Instance | null>;
}

/** What admins read. */
export interface AdminOperations {
  costReport(request: ReportRequest): Promise<CostReport>;
  /** Every live instance with its owner, state, idle deadline and cost so far. */
  adminInstances(): Promise<AdminInstance[]>;
  /** The history, filtered and paged. */
  adminEvents(filter: EventFilter): Promise<EventPage>;
}

/** Who is calling, and what the HTTP layer reports about itself. */
export interface PlatformOperations {
  readonly config: PoolConfig;
  readonly metrics: PoolMetrics;
  /** The user a token (by its hash) belongs to, or null when it is unknown or revoked. */
  userForTokenHash(hash: string): Promise<TokenOwner | null>;
  /** The Prometheus exposition of the pool's metrics, with the pool sizes read now. */
  metricsText(): Promise<{ contentType: string; text: string }>;
  now(): number;
}

/** The domain types the routes render, and the hash tokens are looked up by. */
export type { Instance, TokenOwner };
export { hashToken } from "../store/users";

/** A user's batch jobs and keep-alive holds (issue #18). */
export interface JobOperations {
  submitJob(userId: string, request: JobRequestBody): Promise<JobView>;
  listJobs(userId: string): Promise<JobView[]>;
  getJob(userId: string, id: string): Promise<JobView>;
  /** The log's text from `offset` (bytes), and whether it is complete. */
  jobLog(userId: string, id: string, offset: number): Promise<JobLogChunk>;
  /** Cancels a queued or running job (JOB_ENDED once it ended). */
  cancelJob(userId: string, id: string): Promise<JobView>;
  setKeepAlive(userId: string, instanceId: string, request: KeepAliveRequest): Promise<KeepAliveView>;
  getKeepAlive(userId: string, instanceId: string): Promise<KeepAliveView>;
  endKeepAlive(userId: string, instanceId: string): Promise<KeepAliveView>;
}

export interface PoolApi extends UserOperations, ServiceOperations, AdminOperations, PlatformOperations, JobOperations {}
