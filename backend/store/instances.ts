/** The instances table: the pool's source of truth for every instance it has launched. */
import { sql, type ExpressionBuilder, type Kysely, type Selectable, type Updateable } from "kysely";
import { isServing, LIVE_STATES, SERVING_STATES, type InstanceState } from "../../contract";
import { prepare, prepareByShape } from "./prepared";
import type { Database, InstancesTable } from "./schema";


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
  launchAttempts: number;
  nextAttemptAt: number;
  launchedAt: number;
  runningAt: number | null;
  assignedAt: number | null;
  idleDeadline: number | null;
  endedAt: number | null;
  updatedAt: number;
}

type Row = Selectable<InstancesTable>;
type Db = Kysely<Database>;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function fromRow(r: Row): Instance {
  return {
    id: r.id,
    purpose: r.purpose,
    provider: r.provider,
    providerId: r.provider_id,
    state: r.state as InstanceState,
    stateReason: r.state_reason,
    ownerId: r.owner_id,
    lastOwnerId: r.last_owner_id,
    instanceType: r.instance_type,
    market: r.market,
    hourlyPrice: numOrNull(r.hourly_price),
    availabilityZone: r.availability_zone,
    privateDns: r.private_dns,
    details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : {},
    handedOverTo: r.handed_over_to ?? null,
    launchAttempts: num(r.launch_attempts),
    nextAttemptAt: num(r.next_attempt_at),
    launchedAt: num(r.launched_at),
    runningAt: numOrNull(r.running_at),
    assignedAt: numOrNull(r.assigned_at),
    idleDeadline: numOrNull(r.idle_deadline),
    endedAt: numOrNull(r.ended_at),
    updatedAt: num(r.updated_at),
  };
}

export type InstancePatch = Partial<Omit<Instance, "id" | "details">> & { details?: Record<string, unknown> };

function toUpdate(patch: InstancePatch): Updateable<InstancesTable> {
  const out: Updateable<InstancesTable> = {};
  const map: Record<string, keyof InstancesTable> = {
    purpose: "purpose",
    provider: "provider",
    providerId: "provider_id",
    state: "state",
    stateReason: "state_reason",
    ownerId: "owner_id",
    lastOwnerId: "last_owner_id",
    instanceType: "instance_type",
    market: "market",
    hourlyPrice: "hourly_price",
    availabilityZone: "availability_zone",
    privateDns: "private_dns",
    handedOverTo: "handed_over_to",
    launchAttempts: "launch_attempts",
    nextAttemptAt: "next_attempt_at",
    launchedAt: "launched_at",
    runningAt: "running_at",
    assignedAt: "assigned_at",
    idleDeadline: "idle_deadline",
    endedAt: "ended_at",
    updatedAt: "updated_at",
  };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (k === "details") {
      (out as Record<string, unknown>).details = JSON.stringify(v);
      continue;
    }
    const col = map[k];
    if (col) (out as Record<string, unknown>)[col] = v;
  }
  return out;
}

const INSERT_COLUMNS = [
  "id", "purpose", "provider", "provider_id", "state", "state_reason", "owner_id", "last_owner_id", "instance_type", "market",
  "hourly_price", "availability_zone", "private_dns", "details", "handed_over_to", "launch_attempts", "next_attempt_at",
  "launched_at", "running_at", "assigned_at", "idle_deadline", "ended_at", "updated_at",
] as const;

const insert = prepare((db: Db, ...values: unknown[]) =>
  db.insertInto("instances").values(Object.fromEntries(INSERT_COLUMNS.map((c, k) => [c, values[k]])) as unknown as InstancesTable),
);

export async function insertInstance(db: Db, i: Instance): Promise<void> {
  const row: InstancesTable = {
    id: i.id,
    purpose: i.purpose,
    provider: i.provider,
    provider_id: i.providerId,
    state: i.state,
    state_reason: i.stateReason,
    owner_id: i.ownerId,
    last_owner_id: i.lastOwnerId,
    instance_type: i.instanceType,
    market: i.market,
    hourly_price: i.hourlyPrice,
    availability_zone: i.availabilityZone,
    private_dns: i.privateDns,
    details: JSON.stringify(i.details),
    handed_over_to: i.handedOverTo,
    launch_attempts: i.launchAttempts,
    next_attempt_at: i.nextAttemptAt,
    launched_at: i.launchedAt,
    running_at: i.runningAt,
    assigned_at: i.assignedAt,
    idle_deadline: i.idleDeadline,
    ended_at: i.endedAt,
    updated_at: i.updatedAt,
  };
  await insert(db, ...INSERT_COLUMNS.map((c) => row[c]));
}

export interface UpdateGuard {
  states?: readonly InstanceState[];
  ownerId?: string | null;
}

/**
 * Updates an instance only if it still matches the guard (compare-and-set), so a loop and a
 * request racing on the same row cannot both win. Returns whether the row was changed.
 */
export async function updateInstance(db: Db, id: string, patch: InstancePatch, guard: UpdateGuard = {}): Promise<boolean> {
  const set = toUpdate(patch) as Record<string, unknown>;
  const columns = Object.keys(set);
  const owner = guard.ownerId === undefined ? "any" : guard.ownerId === null ? "none" : "is";
  const args = [...columns.map((c) => set[c]), id, ...(owner === "is" ? [guard.ownerId] : [])];
  const res = await guardedUpdate({ columns, states: guard.states, owner })(db, ...args);
  return Number(res.numAffectedRows ?? 0) > 0;
}

/** One prepared UPDATE per set of columns and kind of guard. */
const guardedUpdate = prepareByShape(
  (s: { columns: string[]; states?: readonly InstanceState[]; owner: "any" | "none" | "is" }) => `${s.columns.join()}|${s.states?.join() ?? "*"}|${s.owner}`,
  (s) =>
    (db: Db, ...args: unknown[]) => {
      const values = Object.fromEntries(s.columns.map((c, i) => [c, args[i]])) as Updateable<InstancesTable>;
      let q = db.updateTable("instances").set(values).where("id", "=", args[s.columns.length] as string);
      if (s.states) q = q.where("state", "in", s.states);
      if (s.owner === "none") q = q.where("owner_id", "is", null);
      if (s.owner === "is") q = q.where("owner_id", "=", args[s.columns.length + 1] as string);
      return q;
    },
);

const byId = prepare((db: Db, id: string) => db.selectFrom("instances").selectAll().where("id", "=", id));

export async function getInstance(db: Db, id: string): Promise<Instance | null> {
  const [r] = (await byId(db, id)).rows;
  return r ? fromRow(r) : null;
}

const servingByOwner = prepare((db: Db, ownerId: string, purpose: string) =>
  db.selectFrom("instances").selectAll().where("owner_id", "=", ownerId).where("purpose", "=", purpose).where("state", "in", SERVING_STATES),
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

const pendingHandOvers = prepare((db: Db) =>
  db
    .selectFrom("instances")
    .selectAll()
    .where("state", "=", "running")
    .where("owner_id", "is not", null)
    .where((eb) => eb.or([eb("handed_over_to", "is", null), eb("handed_over_to", "!=", eb.ref("owner_id"))])),
);

/** What the live rows of one purpose in one state add up to (see surveyLive). */
export interface LiveGroup {
  purpose: string;
  state: InstanceState;
  count: number;
  /** Rows without an owner. */
  free: number;
  /** Rows with an owner that the provider has not set up for them yet. */
  pendingHandOvers: number;
  /** The earliest idle deadline of the rows with an owner. */
  nextIdleDeadline: number | null;
  oldestLaunchedAt: number | null;
}

const survey = prepare((db: Db) =>
  db
    .selectFrom("instances")
    .select(["purpose", "state"])
    .select(({ fn }) => [
      fn.countAll<number>().as("n"),
      sql<number>`sum(case when owner_id is null then 1 else 0 end)`.as("free"),
      sql<number>`sum(case when owner_id is not null and (handed_over_to is null or handed_over_to <> owner_id) then 1 else 0 end)`.as("pending"),
      sql<number | null>`min(case when owner_id is not null then idle_deadline end)`.as("next_idle"),
      fn.min<number>("launched_at").as("oldest"),
    ])
    .where("state", "in", LIVE_STATES)
    .groupBy(["purpose", "state"]),
);

/**
 * One aggregate read of every live row, grouped by purpose and state: the lifecycle loop reads
 * it at the start of a tick to skip the steps that have nothing to do.
 */
export async function surveyLive(db: Db): Promise<LiveGroup[]> {
  const { rows } = await survey(db);
  return rows.map((r) => ({
    purpose: r.purpose,
    state: r.state as InstanceState,
    count: Number(r.n),
    free: Number(r.free),
    pendingHandOvers: Number(r.pending),
    nextIdleDeadline: numOrNull(r.next_idle),
    oldestLaunchedAt: numOrNull(r.oldest),
  }));
}

export interface PurposeCounts {
  live: number;
  free: number;
}

/** Live and free (unassigned, serving) instances per purpose, in one query. */
export async function countsByPurpose(db: Db): Promise<Map<string, PurposeCounts>> {
  const rows = await db
    .selectFrom("instances")
    .select(["purpose", "state", "owner_id"])
    .select(({ fn }) => fn.countAll<number>().as("n"))
    .where("state", "in", LIVE_STATES)
    .groupBy(["purpose", "state", "owner_id"])
    .execute();
  const out = new Map<string, PurposeCounts>();
  for (const r of rows) {
    const c = out.get(r.purpose) ?? { live: 0, free: 0 };
    c.live += Number(r.n);
    if (r.owner_id === null && isServing(r.state as InstanceState)) c.free += Number(r.n);
    out.set(r.purpose, c);
  }
  return out;
}

export async function countLive(db: Db, purpose?: string): Promise<number> {
  const { rows } = await (purpose ? liveOfPurpose(db, purpose) : live(db));
  return Number(rows[0]!.n);
}

const liveQuery = (db: Db) => db.selectFrom("instances").select(({ fn }) => fn.countAll<number>().as("n")).where("state", "in", LIVE_STATES);
const live = prepare(liveQuery);
const liveOfPurpose = prepare((db: Db, purpose: string) => liveQuery(db).where("purpose", "=", purpose));

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

/** Unassigned instances of a purpose that are starting or running (the warm spares). */
export async function countFree(db: Db, purpose: string): Promise<number> {
  return Number((await free(db, purpose)).rows[0]!.n);
}

const free = prepare((db: Db, purpose: string) =>
  db
    .selectFrom("instances")
    .select(({ fn }) => fn.countAll<number>().as("n"))
    .where("state", "in", SERVING_STATES)
    .where("purpose", "=", purpose)
    .where("owner_id", "is", null),
);

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

/** Takes the purpose's lock row for the rest of the transaction (a row lock in PostgreSQL, the write lock in SQLite). */
const bumpLock = prepare((db: Db, name: string, now: number) =>
  db
    .updateTable("purposes")
    .set((eb) => ({ lock_seq: eb("lock_seq", "+", 1), updated_at: now }))
    .where("name", "=", name),
);

export async function lockPurpose(db: Db, name: string, now: number): Promise<void> {
  const res = await bumpLock(db, name, now);
  if (Number(res.numAffectedRows ?? 0) === 0) {
    await db.insertInto("purposes").values({ name, lock_seq: 1, updated_at: now }).onConflict((oc) => oc.column("name").doNothing()).execute();
    await bumpLock(db, name, now);
  }
}

export async function ensurePurposeRows(db: Db, names: string[], now: number): Promise<void> {
  for (const name of [...names, POOL_LOCK]) {
    await db.insertInto("purposes").values({ name, lock_seq: 0, updated_at: now }).onConflict((oc) => oc.column("name").doNothing()).execute();
  }
}

/** Lock row of the whole pool, taken after a purpose's row when a launch needs the pool-wide max. */
export const POOL_LOCK = "__pool__";
