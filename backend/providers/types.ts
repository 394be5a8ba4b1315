/**
 * The contract between the pool (policy, in the database) and a compute provider (EC2, or
 * processes on this machine). The pool never keeps provider state in memory: it calls these
 * methods from its level-based lifecycle loop, and every method must be safe to call again
 * with the same arguments (a restart replays whatever was in flight).
 */
import type { ConnectionResponse, ResumeSessionResponse } from "../../contract";
import type { AppName } from "../config/apps";
import type { PurposeConfig } from "../config/schema";

/** What the pool knows of an instance when it asks the provider to act on it. */
export interface InstanceRef {
  /** The pool's id (stable, also the launch's idempotency token). */
  id: string;
  providerId: string | null;
  purpose: string;
  ownerId: string | null;
  availabilityZone: string | null;
  instanceType: string | null;
  market: string | null;
  /** Provider-specific facts recorded at launch (JSON-safe). */
  details: Record<string, unknown>;
}

export interface LaunchRequest {
  /** The pool's id of the launch row; providers use it as the idempotency token. */
  instanceId: string;
  purpose: PurposeConfig;
  poolName: string;
  /** Set when the instance is launched for a user (their home volume decides the zone). */
  ownerId: string | null;
}

export interface LaunchResult {
  providerId: string;
  instanceType: string | null;
  market: "spot" | "on-demand" | "local";
  availabilityZone: string | null;
  hourlyPrice: number | null;
  details?: Record<string, unknown>;
  /**
   * When the provider accepted the launch (the first time, for a repeated one), if it knows:
   * billing starts then, not when a restarted backend got the answer.
   */
  launchedAt?: number;
}

export type ProviderState = "pending" | "running" | "stopping" | "stopped" | "terminated";

export interface ProviderInstance {
  providerId: string;
  /** The pool's id, read back from the instance's tags (or the local state file). */
  instanceId: string | null;
  poolName: string | null;
  purpose: string | null;
  state: ProviderState;
  /** True once the purpose's service answers; the pool marks the instance running then. */
  ready: boolean;
  /** Provider's reason for the state (e.g. EC2 StateReason code). */
  stateReason: string | null;
  /** True when the provider took the instance back (spot interruption). */
  interrupted: boolean;
  privateDnsName: string | null;
  instanceType: string | null;
  market: "spot" | "on-demand" | "local" | null;
  availabilityZone: string | null;
  launchedAt: number | null;
  /**
   * Set (with the reason) when the instance carries a user's things: it was owned, or a home
   * is attached. The reconciler never adopts such an instance as a warm spare for someone else;
   * it terminates it. Absent: nothing known against it.
   */
  tainted?: string | null;
  /** When it ended, if the provider knows (a local process it stopped): billing ends then. */
  endedAt?: number | null;
}

/**
 * What a provider learns of its instances on its own, before the pool would see it in a list:
 * the provider's warning that it takes an instance back (a spot interruption: EC2 gives two
 * minutes), a recommendation to move off an instance at elevated risk, a state change.
 */
export type InstanceObservation =
  | { kind: "interruption-warning"; providerId: string; at: number; action: string; deadline: number }
  | { kind: "rebalance-recommendation"; providerId: string; at: number }
  | { kind: "state-change"; providerId: string; at: number; state: string };

/** EC2 takes a spot instance back two minutes after its warning. */
export const INTERRUPTION_WARNING_MS = 120_000;

export interface ConnectRequest {
  userId: string;
  localPort?: number;
  /** Which of the instance's apps to reach; absent means the purpose's main app. */
  app?: AppName;
}

/** Thrown (as PoolError codes) by providers: PROVIDER_THROTTLED and PROVIDER_UNAVAILABLE are retried. */
/** When the provider saw an instance end. */
export interface TerminatedAt {
  providerId: string;
  endedAt: number;
}

export interface Provider {
  readonly kind: "local" | "ec2" | string;

  /** Starts the lifecycle of an instance. Idempotent on request.instanceId. */
  launch(request: LaunchRequest): Promise<LaunchResult>;

  /** Every instance of this pool the provider knows of (including recently terminated ones). */
  list(poolName: string): Promise<ProviderInstance[]>;

  /**
   * Every instance the provider has under any pool name (optional). Start-up uses it to warn
   * about instances of another pool name: a copied configuration with another `poolName`
   * would otherwise leave them running, unseen.
   */
  listEveryPool?(): Promise<ProviderInstance[]>;

  /** The given instances only (cheap; used while they boot). Missing ids are simply absent. */
  describe(providerIds: string[]): Promise<ProviderInstance[]>;

  /**
   * Terminates; terminating an already gone instance is not an error. May say when each really
   * ended (a process's exit, a tombstone left before a crash): the pool bills to then, not to
   * when it heard, which after a restart can be seconds later.
   */
  terminate(refs: InstanceRef[]): Promise<TerminatedAt[] | void>;

  /** Hands a running instance to a user (tags, home volume). */
  assign(ref: InstanceRef, userId: string, purpose: PurposeConfig): Promise<void>;

  /** Takes the user's things off the instance before it is terminated (detach home volume). */
  release(ref: InstanceRef, purpose: PurposeConfig): Promise<void>;

  /** How the owner reaches the instance's service. The caller has already checked ownership. */
  connect(ref: InstanceRef, purpose: PurposeConfig, request: ConnectRequest): Promise<ConnectionResponse>;

  /** Whether the user is still computing on it although nobody sent a heartbeat. */
  isBusy(ref: InstanceRef, purpose: PurposeConfig): Promise<boolean>;

  /**
   * Zones where the user's things are (their home volume), best first. A claim then prefers a
   * warm instance in one of them, so the home can be attached. Optional: no preference.
   */
  preferredZones?(userId: string, purpose: PurposeConfig): Promise<string[]>;

  /** Spot prices seen since the last call (each in force from `at`); the pool records them. Optional. */
  observedSpotPrices?(): Array<{ instanceType: string; availabilityZone: string; at: number; hourlyPrice: number }>;

  /**
   * When true and preferredZones() names zones, a warm instance is handed to the user only in
   * one of them (their home is there); otherwise the claim launches. Optional: any zone will do.
   */
  readonly handOverOnlyInPreferredZones?: boolean;
  /**
   * One round of observing (optional): hands each observation about the given live instances to
   * `handle` (which is idempotent: a queue may deliver twice) and returns; a round may wait a
   * while for news (a long poll), but returns soon after `signal` aborts. The pool calls it in
   * a loop of its own, beside the lifecycle tick. `refs` reads the live instances from the
   * database: a provider that can tell there is nothing to observe (local: no notice file)
   * skips that read, which costs ~20 ms a round with 1,000 instances.
   */
  observe?(refs: () => Promise<InstanceRef[]>, handle: (o: InstanceObservation) => Promise<void>, signal: AbortSignal): Promise<void>;
  /**
   * A new token for an SSM session the service closed (ResumeSession), and ending one
   * (TerminateSession). Optional: only providers that hand out `kind: "ssm"` connections have
   * them. The caller has already checked that the user owns the instance.
   */
  resumeSession?(ref: InstanceRef, sessionId: string): Promise<ResumeSessionResponse>;
  terminateSession?(ref: InstanceRef, sessionId: string): Promise<boolean>;

  /** The price per hour of an instance of this purpose (for the purposes list). */
  priceOf(purpose: PurposeConfig): Promise<number | null>;

  close(): Promise<void>;
}
