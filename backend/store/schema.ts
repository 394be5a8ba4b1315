/**
 * Table types of the pool's database, shared by SQLite and PostgreSQL. Times are integer
 * milliseconds since the epoch (bigint in PostgreSQL, parsed back to numbers), so both
 * dialects compare and sort them the same way.
 */
import type { Generated } from "kysely";

export interface UsersTable {
  id: string;
  is_admin: number;
  created_at: number;
  revoked_at: number | null;
}

export interface ApiTokensTable {
  /** SHA-256 of the token, hex. The token itself is never stored. */
  token_hash: string;
  user_id: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

/** One row per purpose: the row claims lock so that the purpose's rules hold under concurrency. */
export interface PurposesTable {
  name: string;
  lock_seq: number;
  updated_at: number;
}

export interface InstancesTable {
  id: string;
  purpose: string;
  provider: string;
  provider_id: string | null;
  state: string;
  state_reason: string | null;
  owner_id: string | null;
  /** The last user it was assigned to; kept after release so they can see why it ended. */
  last_owner_id: string | null;
  instance_type: string | null;
  market: string | null;
  hourly_price: number | null;
  availability_zone: string | null;
  private_dns: string | null;
  details: string;
  /** Whom the provider has set the instance up for (owner tag, home volume); differs from owner_id while a hand-over is pending. */
  handed_over_to: string | null;
  /** The batch job that holds the instance (its owner is the job's user); null for interactive instances and spares. */
  job_id: string | null;
  launch_attempts: number;
  next_attempt_at: number;
  launched_at: number;
  running_at: number | null;
  assigned_at: number | null;
  idle_deadline: number | null;
  ended_at: number | null;
  updated_at: number;
}

export interface EventsTable {
  id: Generated<number>;
  at: number;
  instance_id: string | null;
  user_id: string | null;
  purpose: string | null;
  kind: string;
  reason: string | null;
  actor: string;
  details: string | null;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}

/** Observed spot prices (a step function per instance type and zone). */
export interface SpotPricesTable {
  instance_type: string;
  availability_zone: string;
  at: number;
  hourly_price: number;
}

/** Configured purpose prices over time. */
export interface PurposePricesTable {
  purpose: string;
  at: number;
  hourly_price: number | null;
}

export interface WarmCalibrationTable {
  purpose: string;
  hour_of_week: number;
  boost: number;
  applied_hour: number;
  updated_at: number;
}

/** A batch job (issue #18). */
export interface JobsTable {
  id: string;
  owner_id: string;
  purpose: string;
  runner: string;
  state: string;
  state_reason: string | null;
  script_name: string | null;
  /** JSON: script or command, args, env, files. Emptied once the job ended (its env may hold secrets). */
  spec: string;
  spec_bytes: number;
  instance_id: string | null;
  run_ref: string | null;
  exit_code: number | null;
  created_at: number;
  placed_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  deadline_at: number | null;
  cost: number | null;
  finalized_at: number | null;
  updated_at: number;
}

/** "Keep this instance until this process ends, at most N hours": one hold per instance. */
export interface KeepAliveHoldsTable {
  instance_id: string;
  owner_id: string;
  pid: number;
  started_at: number;
  until_at: number;
  ended_at: number | null;
  ended_reason: string | null;
  updated_at: number;
}

export interface Database {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  purposes: PurposesTable;
  instances: InstancesTable;
  events: EventsTable;
  leases: LeasesTable;
  spot_prices: SpotPricesTable;
  purpose_prices: PurposePricesTable;
  warm_calibration: WarmCalibrationTable;
  jobs: JobsTable;
  keep_alive_holds: KeepAliveHoldsTable;
}
