/**
 * Writes to the instances table: inserting a row, and compare-and-set updates guarded by the
 * row's state and owner, so a loop and a request racing on one row cannot both win.
 *
 * An instance's `state` is written only by `writeStateGuarded`, and only the pool's transition
 * owner (backend/pool/transitions.ts) calls it: it pairs every state change with its history
 * event in one transaction. `updateInstance` cannot change the state (its patch has no `state`).
 *
 * The warm claim's one write (`claimFreeRunning`) is here too: a free running spare of the
 * purpose becomes the caller's in a single guarded `UPDATE … RETURNING`, with no read before it
 * and no lock row. Racing claims never share a spare (the UPDATE itself re-checks `owner_id IS
 * NULL`; PostgreSQL's `FOR UPDATE SKIP LOCKED` sends a racing claim to the next spare instead
 * of making it wait), and a user racing themselves is stopped by the unique index
 * `instances_one_serving` (migration 0008; see `isUniqueViolation`). It sets owner and deadline
 * columns, never the state.
 */
import { PostgresAdapter, sql, type Kysely, type SelectQueryBuilder, type Updateable } from "kysely";
import type { InstanceState } from "../../../contract";
import { prepare, prepareByShape } from "../prepared";
import type { Database, InstancesTable } from "../schema";
import { COLUMN_NAMES, fromRow, toColumns, toRow, type Instance } from "./row";

type Db = Kysely<Database>;

/** What an update may set: anything but the id and the state. */
export type InstancePatch = Partial<Omit<Instance, "id" | "state">>;

export interface UpdateGuard {
  states?: readonly InstanceState[];
  /** undefined: any owner; null: no owner; a string: that owner. */
  ownerId?: string | null;
  /** Only while the idle deadline is set and not after this (a heartbeat that moved it wins). */
  idleDeadlineAtMost?: number;
  /** Only a row of this purpose. */
  purpose?: string;
}

const insert = prepare((db: Db, ...values: unknown[]) =>
  db.insertInto("instances").values(Object.fromEntries(COLUMN_NAMES.map((c, k) => [c, values[k]])) as unknown as InstancesTable),
);

/** Inserts a new row. New rows are created by the transition owner too (with their first event). */
export async function insertInstance(db: Db, i: Instance): Promise<void> {
  const row = toRow(i);
  await insert(db, ...COLUMN_NAMES.map((c) => row[c]));
}

/** Updates columns other than the state if the row still matches the guard; says whether it did. */
export async function updateInstance(db: Db, id: string, patch: InstancePatch, guard: UpdateGuard = {}): Promise<boolean> {
  if ("state" in patch) throw new Error("updateInstance cannot change the state: use the pool's transitions");
  return guardedWrite(db, id, toColumns(patch), guard);
}

/** Sets the state (and the patch) if the row is in one of `from` (and matches the owner guard). */
export async function writeStateGuarded(
  db: Db,
  id: string,
  from: readonly InstanceState[],
  to: InstanceState,
  patch: InstancePatch,
  ownerId?: string | null,
  idleDeadlineAtMost?: number,
): Promise<boolean> {
  return guardedWrite(db, id, { ...toColumns(patch), state: to }, { states: from, ownerId, idleDeadlineAtMost });
}

async function guardedWrite(db: Db, id: string, set: Updateable<InstancesTable>, guard: UpdateGuard): Promise<boolean> {
  const values = set as Record<string, unknown>;
  const columns = Object.keys(values);
  const owner = guard.ownerId === undefined ? "any" : guard.ownerId === null ? "none" : "is";
  const deadline = guard.idleDeadlineAtMost !== undefined;
  const args = [
    ...columns.map((c) => values[c]),
    id,
    ...(owner === "is" ? [guard.ownerId] : []),
    ...(deadline ? [guard.idleDeadlineAtMost] : []),
    ...(guard.purpose !== undefined ? [guard.purpose] : []),
  ];
  const res = await guardedUpdate({ columns, states: guard.states, owner, deadline, purpose: guard.purpose !== undefined })(db, ...args);
  return Number(res.numAffectedRows ?? 0) > 0;
}

/** One prepared UPDATE per set of columns and kind of guard. */
const guardedUpdate = prepareByShape(
  (s: { columns: string[]; states?: readonly InstanceState[]; owner: "any" | "none" | "is"; deadline: boolean; purpose: boolean }) =>
    `${s.columns.join()}|${s.states?.join() ?? "*"}|${s.owner}|${s.deadline}|${s.purpose}`,
  (s) =>
    (db: Db, ...args: unknown[]) => {
      const values = Object.fromEntries(s.columns.map((c, i) => [c, args[i]])) as Updateable<InstancesTable>;
      let q = db.updateTable("instances").set(values).where("id", "=", args[s.columns.length] as string);
      if (s.states) q = q.where("state", "in", s.states);
      if (s.owner === "none") q = q.where("owner_id", "is", null);
      if (s.owner === "is") q = q.where("owner_id", "=", args[s.columns.length + 1] as string);
      if (s.deadline) q = q.where("idle_deadline", "<=", args[s.columns.length + 1 + (s.owner === "is" ? 1 : 0)] as number);
      if (s.purpose) q = q.where("purpose", "=", args[args.length - 1] as string);
      return q;
    },
);

export interface WarmClaim {
  ownerId: string;
  /** The batch job that takes the spare (issue #18); null for an interactive claim. */
  jobId: string | null;
  now: number;
  idleDeadline: number;
}

/**
 * Which spare, when the user's home is in some zones: `only` takes spares in those zones only
 * (a provider whose homes cannot move), `prefer` takes one there first and any other otherwise.
 */
export type ZoneRule = { zones: readonly string[]; mode: "only" | "prefer" };

/** Takes the longest-running free spare of `purpose` for the claimant; null when none is free. */
export async function claimFreeRunning(db: Db, purpose: string, c: WarmClaim, zones?: ZoneRule): Promise<Instance | null> {
  const n = zones?.zones.length ?? 0;
  const q = claimQuery({ zones: n, mode: n ? zones!.mode : "any" });
  const { rows } = await q(db, c.ownerId, c.jobId, c.now, c.idleDeadline, purpose, ...(zones?.zones ?? []));
  return rows[0] ? fromRow(rows[0]) : null;
}

const isPostgres = (db: Db) => db.getExecutor().adapter instanceof PostgresAdapter;

const claimQuery = prepareByShape(
  (s: { zones: number; mode: "any" | "only" | "prefer" }) => `${s.zones}|${s.mode}`,
  (s) =>
    (db: Db, ownerId: string, jobId: string | null, now: number, idleDeadline: number, purpose: string, ...zones: string[]) => {
      // The partial index instances_free (purpose, state, running_at where owner_id is null) serves the pick.
      let pick: SelectQueryBuilder<Database, "instances", { id: string }> = db
        .selectFrom("instances")
        .select("id")
        .where("purpose", "=", purpose)
        .where("state", "=", sql.lit("running"))
        .where("owner_id", "is", null);
      if (s.mode === "only") pick = pick.where("availability_zone", "in", zones);
      if (s.mode === "prefer") pick = pick.orderBy(sql`case when availability_zone in (${sql.join(zones)}) then 0 else 1 end`);
      // A literal limit: SQLite plans `limit ?` worse here.
      pick = pick.orderBy("running_at").limit(sql.lit(1));
      const set = { owner_id: ownerId, last_owner_id: ownerId, job_id: jobId, assigned_at: now, idle_deadline: idleDeadline, updated_at: now };
      if (isPostgres(db)) {
        return db
          .with("pick", () => pick.forUpdate().skipLocked())
          .updateTable("instances")
          .set(set)
          .from("pick")
          .whereRef("instances.id", "=", "pick.id")
          .where("instances.owner_id", "is", null)
          .returningAll("instances");
      }
      // SQLite has one writer at a time: the sub-select and the update are one atomic step.
      return db.updateTable("instances").set(set).where("id", "=", pick).where("owner_id", "is", null).returningAll();
    },
);

/** Whether the database refused a write for a unique index (SQLite and PostgreSQL). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "23505";
}
