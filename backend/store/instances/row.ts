/**
 * The shape of an instance: the one list of its columns, from which the row mapping in both
 * directions (database row ↔ Instance) is derived. Adding a column is one line here (and a
 * migration).
 */
import type { Selectable, Updateable } from "kysely";
import type { InstanceState } from "../../../contract";
import type { InstancesTable } from "../schema";

export interface Instance {
  id: string;
  purpose: string;
  provider: string;
  providerId: string | null;
  state: InstanceState;
  stateReason: string | null;
  ownerId: string | null;
  lastOwnerId: string | null;
  instanceType: string | null;
  market: string | null;
  hourlyPrice: number | null;
  availabilityZone: string | null;
  privateDns: string | null;
  details: Record<string, unknown>;
  handedOverTo: string | null;
  /** The batch job holding it: never returned to its owner's interactive claims. */
  jobId: string | null;
  launchAttempts: number;
  nextAttemptAt: number;
  launchedAt: number;
  runningAt: number | null;
  assignedAt: number | null;
  idleDeadline: number | null;
  endedAt: number | null;
  updatedAt: number;
}

/** How a column's value is read back: PostgreSQL returns numerics as strings in some drivers. */
type Decode = "text" | "number" | "number?" | "json";

/** Every column: the Instance field, the table column, how its value is read. */
export const INSTANCE_COLUMNS = [
  ["id", "id", "text"],
  ["purpose", "purpose", "text"],
  ["provider", "provider", "text"],
  ["providerId", "provider_id", "text"],
  ["state", "state", "text"],
  ["stateReason", "state_reason", "text"],
  ["ownerId", "owner_id", "text"],
  ["lastOwnerId", "last_owner_id", "text"],
  ["instanceType", "instance_type", "text"],
  ["market", "market", "text"],
  ["hourlyPrice", "hourly_price", "number?"],
  ["availabilityZone", "availability_zone", "text"],
  ["privateDns", "private_dns", "text"],
  ["details", "details", "json"],
  ["handedOverTo", "handed_over_to", "text"],
  ["jobId", "job_id", "text"],
  ["launchAttempts", "launch_attempts", "number"],
  ["nextAttemptAt", "next_attempt_at", "number"],
  ["launchedAt", "launched_at", "number"],
  ["runningAt", "running_at", "number?"],
  ["assignedAt", "assigned_at", "number?"],
  ["idleDeadline", "idle_deadline", "number?"],
  ["endedAt", "ended_at", "number?"],
  ["updatedAt", "updated_at", "number"],
] as const satisfies ReadonlyArray<readonly [keyof Instance, keyof InstancesTable, Decode]>;

// Every field of Instance and every column of the table is in the list (a compile-time check).
type Listed<I extends 0 | 1> = (typeof INSTANCE_COLUMNS)[number][I];
const _everyField: Record<Exclude<keyof Instance, Listed<0>>, never> = {};
const _everyColumn: Record<Exclude<keyof InstancesTable, Listed<1>>, never> = {};
void _everyField;
void _everyColumn;

/** The table's column names, in list order (an INSERT's columns). */
export const COLUMN_NAMES: ReadonlyArray<keyof InstancesTable> = INSTANCE_COLUMNS.map((c) => c[1]);
const COLUMN_OF = new Map<string, keyof InstancesTable>(INSTANCE_COLUMNS.map(([f, c]) => [f, c]));

function decode(kind: Decode, v: unknown): unknown {
  switch (kind) {
    case "text":
      return v ?? null;
    case "number":
      return Number(v);
    case "number?":
      return v === null || v === undefined ? null : Number(v);
    case "json":
      return v ? JSON.parse(v as string) : {};
  }
}

export function fromRow(r: Selectable<InstancesTable>): Instance {
  const out: Record<string, unknown> = {};
  for (const [field, column, kind] of INSTANCE_COLUMNS) out[field] = decode(kind, (r as Record<string, unknown>)[column]);
  return out as unknown as Instance;
}

/** A whole row, for an INSERT. */
export function toRow(i: Instance): InstancesTable {
  const out: Record<string, unknown> = {};
  for (const [field, column, kind] of INSTANCE_COLUMNS) out[column] = kind === "json" ? JSON.stringify(i[field]) : i[field];
  return out as unknown as InstancesTable;
}

/** The columns a patch sets (fields left undefined are not touched). */
export function toColumns(patch: Partial<Instance>): Updateable<InstancesTable> {
  const out: Record<string, unknown> = {};
  for (const [field, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    const column = COLUMN_OF.get(field);
    if (column) out[column] = column === "details" ? JSON.stringify(v) : v;
  }
  return out as Updateable<InstancesTable>;
}
