/**
 * Counts over the live rows: the aggregate a tick starts with (which steps have work), and the
 * counts that the claims and the warm pool check their limits against, under the purpose lock.
 */
import { sql, type Kysely } from "kysely";
import { LIVE_STATES, SERVING_STATES, type InstanceState } from "../../../contract";
import { prepare } from "../prepared";
import type { Database } from "../schema";

type Db = Kysely<Database>;

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

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

export async function countLive(db: Db, purpose?: string): Promise<number> {
  const { rows } = await (purpose ? liveOfPurpose(db, purpose) : live(db));
  return Number(rows[0]!.n);
}

const liveQuery = (db: Db) => db.selectFrom("instances").select(({ fn }) => fn.countAll<number>().as("n")).where("state", "in", LIVE_STATES);
const live = prepare(liveQuery);
const liveOfPurpose = prepare((db: Db, purpose: string) => liveQuery(db).where("purpose", "=", purpose));

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
