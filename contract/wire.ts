/**
 * The wire contract of the backend's /v1 REST API: the JSON shapes the extension (and any
 * other client) reads. Types only, so importing it adds nothing to the extension's bundle.
 * Every timestamp is an ISO 8601 string in UTC; money is in `currency` units.
 */

import type { InstanceState } from "./states";
import type { AppEndpoint, AppName } from "./apps";

export interface InstanceView {
  instanceId: string;
  purpose: string;
  state: InstanceState;
  /** Why the instance is in its state, when that matters (e.g. "spot-interruption", "idle"). */
  stateReason: string | null;
  ownerId: string | null;
  instanceType: string | null;
  market: "spot" | "on-demand" | "local" | null;
  /** Price per hour of this instance now, in `currency`. */
  hourlyPrice: number | null;
  currency: string;
  launchedAt: string;
  runningAt: string | null;
  assignedAt: string | null;
  endedAt: string | null;
  /** When the idle reaper takes the instance unless a heartbeat comes first. */
  idleDeadline: string | null;
  /** When the instance is terminated whatever its activity (maximum lifetime). */
  expiresAt: string | null;
  /**
   * The instance that takes over from this one, when the provider takes this one back (a spot
   * interruption): the user's home moves there and the extension reopens RStudio on it.
   */
  replacementId: string | null;
  /** The web app the user reaches there: the purpose's app, or what the provider really runs. Absent from older backends: rstudio. */
  app?: AppName;
  /** Every app it serves (the main one first); the extension opens either. */
  apps?: AppName[];
  /** The batch job running on it (issue #18): not an interactive instance. Absent from older backends and for interactive ones. */
  jobId?: string;
}

export interface MeResponse {
  userId: string;
  isAdmin: boolean;
}

export interface PurposeView {
  name: string;
  description: string;
  servicePort: number;
  /** Price per hour of the purpose's first instance type, when known. */
  hourlyPrice: number | null;
  currency: string;
  idleTimeoutSeconds: number;
  max: number;
  /** The web app its instances serve: "rstudio" (RStudio Server) or "jupyter" (Jupyter Notebook, R kernel). Absent from older backends: rstudio. */
  app?: AppName;
  /** Every app its instances serve with its port there, the main app first. */
  apps?: AppEndpoint[];
}

export interface PurposesResponse {
  purposes: PurposeView[];
  defaultPurpose: string;
}

export interface ClaimRequest {
  purpose?: string;
}

export interface ClaimResponse {
  instance: InstanceView;
  /**
   * "existing": the caller already had it; "warm": a free instance of the pool (running, or, when
   * the pool is at its limit, still starting: wait for it to run); "launched": a new one.
   */
  source: "existing" | "warm" | "launched";
}

export interface InstancesResponse {
  instances: InstanceView[];
}

export interface InstanceResponse {
  instance: InstanceView;
}

export interface HeartbeatResponse {
  instanceId: string;
  idleDeadline: string;
}

export interface ConnectionRequest {
  /** The 127.0.0.1 port the client will forward to (SSM); ignored for direct connections. */
  localPort?: number;
  /** Which of the instance's apps to reach; absent means its main app. */
  app?: AppName;
}

export interface DirectConnection {
  kind: "direct";
  host: string;
  port: number;
  /** Path the web app is served under. */
  path: string;
  /** The app this connection reaches. */
  app?: AppName;
}

export interface SsmConnection {
  kind: "ssm";
  sessionId: string;
  streamUrl: string;
  tokenValue: string;
  target: string;
  region: string;
  documentName: string;
  parameters: Record<string, string[]>;
  /** SSM endpoint URL the plugin should talk to. */
  endpoint: string;
  /** The app this connection reaches. */
  app?: AppName;
}

export type ConnectionResponse = DirectConnection | SsmConnection;

export interface CostInstanceLine {
  instanceId: string;
  purpose: string;
  hourlyPrice: number;
}

export interface CostsResponse {
  currency: string;
  /** Sum of the hourly prices of the caller's instances running now. */
  ratePerHour: number;
  spentToday: number;
  spentThisMonth: number;
  /** Monthly budget, or null when none applies. */
  budget: number | null;
  /** spentThisMonth / budget, or null. */
  budgetUsed: number | null;
  /** "ok" below the warning threshold, "warning" from it, "exceeded" at or past the budget. */
  budgetState: "ok" | "warning" | "exceeded";
  instances: CostInstanceLine[];
}

export interface ApiErrorBody {
  error: { code: string; message: string };
}
