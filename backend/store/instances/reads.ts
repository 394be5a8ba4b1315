/**
 * Reads of the instances table: the few queries the API and the lifecycle steps run, each
 * prepared once (see ../prepared.ts) and each asking for exactly the rows it needs.
 */
import { sql, type ExpressionBuilder, type Kysely, type Selectable } from "kysely";
import { LIVE_STATES, SERVING_STATES, type InstanceState } from "../../../contract";
import { prepare, prepareByShape } from "../prepared";
import type { Database, InstancesTable } from "../schema";
import { RUNNING_PURPOSES } from "./live-groups";
import { fromRow, type Instance } from "./row";

type Db = Kysely<Database>;

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const byId = prepare((db: Db, id: string) => db.selectFrom("instances").selectAll().where("id", "=", id));

export async function getInstance(db: Db, id: string): Promise<Instance | null> {
  const [r] = (await byId(db, id)).rows;
  return r ? fromRow(r) : null;
}

/** Only the state of an instance (null: no such row): for callers polling one row, such as the simulator. */
export async function getInstanceState(db: Db, id: string): Promise<InstanceState | null> {
  const [r] = (await stateById(db, id)).rows;
  return r ? (r.state as InstanceState) : null;
}

const stateById = prepare((db: Db, id: string) => db.selectFrom("instances").select("state").where("id", "=", id));

/** The live instance the provider knows by this id (observations name the provider's id). */
export async function findLiveByProviderId(db: Db, providerId: string): Promise<Instance | null> {
  const r = await db.selectFrom("instances").selectAll().where("provider_id", "=", providerId).where("state", "in", LIVE_STATES).executeTakeFirst();
  return r ? fromRow(r) : null;
}

// A batch job's instance is not the user's interactive one (issue #18): a claim never returns it.
const servingByOwner = prepare((db: Db, ownerId: string, purpose: string) =>
  db
    .selectFrom("instances")
    .selectAll()
    .where("owner_id", "=", ownerId)
    .where("purpose", "=", purpose)
    .where("state", "in", SERVING_STATES)
    .where("job_id", "is", null),
);

export async function findServingByOwner(db: Db, ownerId: string, purpose: string): Promise<Instance | null> {
  const [r] = (await servingByOwner(db, ownerId, purpose)).rows;
  return r ? fromRow(r) : null;
}

/**
 * What a user may see: the instances they hold, and those last held by them that are still
 * terminating or ended since `endedSince` (so they can see what happened to them).
 */
function visibleTo(userId: string, endedSince: number) {
  return (eb: ExpressionBuilder<Database, "instances">) =>
    eb.or([
      eb("owner_id", "=", userId),
      eb.and([eb("last_owner_id", "=", userId), eb.or([eb("state", "=", "releasing"), eb("ended_at", ">=", endedSince)])]),
    ]);
}

export async function listForUser(db: Db, userId: string, endedSince: number): Promise<Instance[]> {
  const rows = await db.selectFrom("instances").selectAll().where(visibleTo(userId, endedSince)).orderBy("launched_at", "desc").execute();
  return rows.map(fromRow);
}

const visibleById = prepare((db: Db, id: string, userId: string, endedSince: number) =>
  db.selectFrom("instances").selectAll().where("id", "=", id).where(visibleTo(userId, endedSince)),
);

/** One instance, if the user may see it (see `visibleTo`); null otherwise, whoever else has it. */
export async function getForUser(db: Db, userId: string, id: string, endedSince: number): Promise<Instance | null> {
  const [r] = (await visibleById(db, id, userId, endedSince)).rows;
  return r ? fromRow(r) : null;
}

/** The longest-running free instance of a purpose, in one of `zones` when such a one exists. */
export async function findFreeRunning(db: Db, purpose: string, zones: string[] = []): Promise<Instance | null> {
  if (zones.length) {
    const [inZone] = (await freeRunningInZones(zones.length)(db, purpose, ...zones)).rows;
    if (inZone) return fromRow(inZone);
  }
  const [r] = (await freeRunning(db, purpose)).rows;
  return r ? fromRow(r) : null;
}

const freeRunningQuery = (db: Db, purpose: string) =>
  db.selectFrom("instances").selectAll().where("purpose", "=", purpose).where("state", "=", "running").where("owner_id", "is", null).orderBy("running_at")
    // A literal limit: SQLite plans `limit ?` worse here (measured: 3x slower).
    .limit(sql.lit(1));
const freeRunning = prepare(freeRunningQuery);
const freeRunningInZones = prepareByShape(
  (n: number) => String(n),
  () =>
    (db: Db, purpose: string, ...zones: string[]) =>
      freeRunningQuery(db, purpose).where("availability_zone", "in", zones),
);

export async function listInStates(db: Db, states: readonly InstanceState[], purpose?: string): Promise<Instance[]> {
  const q = purpose ? inStatesOfPurpose(states)(db, purpose) : inStates(states)(db);
  return (await q).rows.map(fromRow);
}

const inStates = prepareByShape(
  (states: readonly InstanceState[]) => states.join(),
  (states) => (db: Db) => db.selectFrom("instances").selectAll().where("state", "in", states).orderBy("launched_at"),
);
const inStatesOfPurpose = prepareByShape(
  (states: readonly InstanceState[]) => states.join(),
  (states) => (db: Db, purpose: string) => db.selectFrom("instances").selectAll().where("state", "in", states).where("purpose", "=", purpose).orderBy("launched_at"),
);

/** What the boot step needs of a booting instance (a narrow read: it runs on most ticks of a busy day). */
export type BootingInstance = Pick<Instance, "id" | "purpose" | "providerId" | "ownerId" | "launchedAt">;

/**
 * The booting instances, by purpose and launch time: the order of `instances_state_launched`,
 * so SQLite reads them off that index without sorting.
 */
export async function listBooting(db: Db): Promise<BootingInstance[]> {
  return (await booting(db)).rows.map((r) => ({
    id: r.id,
    purpose: r.purpose,
    providerId: r.provider_id,
    ownerId: r.owner_id,
    launchedAt: Number(r.launched_at),
  }));
}

const booting = prepare((db: Db) =>
  db
    .selectFrom("instances")
    .select(["id", "purpose", "provider_id", "owner_id", "launched_at"])
    .where("state", "=", sql.lit("booting"))
    .orderBy("purpose")
    .orderBy("launched_at"),
);

export interface InstanceFilter {
  purpose?: string;
  /** true: unassigned only; false: assigned only. */
  free?: boolean;
  launchedBefore?: number;
  idleDeadlineBefore?: number;
}

/**
 * Instances in these states that match the filter, in launch order. The lifecycle steps say
 * exactly which rows they want, so a tick reads the few due rows, not every live instance.
 */
export async function findInStates(db: Db, states: readonly InstanceState[], f: InstanceFilter): Promise<Instance[]> {
  let q = db.selectFrom("instances").selectAll().where("state", "in", states);
  if (f.purpose !== undefined) q = q.where("purpose", "=", f.purpose);
  if (f.free !== undefined) q = q.where("owner_id", f.free ? "is" : "is not", null);
  if (f.launchedBefore !== undefined) q = q.where("launched_at", "<=", f.launchedBefore);
  if (f.idleDeadlineBefore !== undefined) q = q.where("idle_deadline", "<=", f.idleDeadlineBefore);
  return (await q.orderBy("launched_at").execute()).map(fromRow);
}

/** Running, assigned instances not yet set up for their owner by the provider. */
export async function findPendingHandOvers(db: Db): Promise<Instance[]> {
  return (await pendingHandOvers(db)).rows.map(fromRow);
}

// Purpose by purpose (see RUNNING_PURPOSES): with the purpose fixed, SQLite reads them off the
// small partial index `instances_hand_over_pending`; without it, it walks every assigned row.
// CROSS JOIN keeps the purposes the outer loop in SQLite (a plain join let it start from the
// rows, 30 times slower); PostgreSQL plans it as any join.
const pendingHandOvers = prepare((db: Db) => {
  const query = sql<Selectable<InstancesTable>>`${RUNNING_PURPOSES}
    select i.* from running_purposes r cross join "instances" i
    where r."purpose" is not null and i."state" = 'running' and i."purpose" = r."purpose"
      and i."owner_id" is not null and (i."handed_over_to" is null or i."handed_over_to" <> i."owner_id")`;
  return { compile: () => query.compile(db) };
});

/** The free running instances of a purpose, most recently started first: candidates to scale down. */
export async function listSpareRunning(db: Db, purpose: string): Promise<Array<Pick<Instance, "id" | "purpose" | "ownerId" | "runningAt">>> {
  const rows = await db
    .selectFrom("instances")
    .select(["id", "running_at"])
    .where("purpose", "=", purpose)
    .where("state", "=", "running")
    .where("owner_id", "is", null)
    .orderBy("running_at", "desc")
    .execute();
  return rows.map((r) => ({ id: r.id, purpose, ownerId: null, runningAt: numOrNull(r.running_at) }));
}

/** Instances with any of these pool ids or provider ids (the reconciler's look-up of listed instances). */
export async function listByIds(db: Db, ids: string[], providerIds: string[]): Promise<Instance[]> {
  if (ids.length === 0 && providerIds.length === 0) return [];
  const rows = await db
    .selectFrom("instances")
    .selectAll()
    .where((eb) => eb.or([...(ids.length ? [eb("id", "in", ids)] : []), ...(providerIds.length ? [eb("provider_id", "in", providerIds)] : [])]))
    .execute();
  return rows.map(fromRow);
}

/** What the reconciler compares with the provider's listing (no JSON details to parse). */
export type InstanceSummary = Pick<Instance, "id" | "purpose" | "providerId" | "state" | "stateReason" | "ownerId" | "lastOwnerId" | "launchedAt">;

export async function listLiveSummaries(db: Db): Promise<InstanceSummary[]> {
  const rows = await db
    .selectFrom("instances")
    .select(["id", "purpose", "provider_id", "state", "state_reason", "owner_id", "last_owner_id", "launched_at"])
    .where("state", "in", LIVE_STATES)
    .orderBy("launched_at")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    purpose: r.purpose,
    providerId: r.provider_id,
    state: r.state as InstanceState,
    stateReason: r.state_reason,
    ownerId: r.owner_id,
    lastOwnerId: r.last_owner_id,
    launchedAt: Number(r.launched_at),
  }));
}

export async function listAll(db: Db, filter: { states?: readonly InstanceState[]; ownerId?: string } = {}): Promise<Instance[]> {
  let q = db.selectFrom("instances").selectAll();
  if (filter.states) q = q.where("state", "in", filter.states);
  if (filter.ownerId) q = q.where("owner_id", "=", filter.ownerId);
  return (await q.orderBy("launched_at").execute()).map(fromRow);
}

const freeStarting = prepare((db: Db, purpose: string) =>
  db
    .selectFrom("instances")
    .selectAll()
    .where("purpose", "=", purpose)
    .where("state", "in", ["launching", "booting"])
    .where("owner_id", "is", null)
    // The one that has been starting longest is the nearest to ready.
    .orderBy("launched_at")
    .limit(sql.lit(1)),
);

/** The free spare of a purpose nearest to ready among those still launching or booting. */
export async function findFreeStarting(db: Db, purpose: string): Promise<Instance | null> {
  const [r] = (await freeStarting(db, purpose)).rows;
  return r ? fromRow(r) : null;
}
