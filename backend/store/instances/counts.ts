/**
 * Counts over the live rows: the aggregate a tick starts with (which steps have work), and the
 * counts that the claims and the warm pool check their limits against, under the purpose lock.
 */
import { sql, type Kysely } from "kysely";
import { LIVE_STATES, SERVING_STATES, type InstanceState } from "../../../contract";
import { prepare } from "../prepared";
import { LIVE_GROUPS } from "./live-groups";
import type { Database } from "../schema";

type Db = Kysely<Database>;

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * What the live rows of one purpose in one state add up to (see surveyLive). A group is listed
 * only when it has rows.
 */
export interface LiveGroup {
  purpose: string;
  state: InstanceState;
  /** Rows without an owner. */
  free: number;
  /** Rows with an owner that the provider has not set up for them yet. */
  pendingHandOvers: number;
  /** The earliest idle deadline of the rows with an owner. */
  nextIdleDeadline: number | null;
  oldestLaunchedAt: number | null;
}

/**
 * Per live state and purpose (LIVE_GROUPS: one probe per group), four scalar probes, each
 * answered by an index without reading the other rows: free rows by the owner-less range of
 * `instances_live`, pending hand-overs by `instances_hand_over_pending`, the earliest idle deadline by
 * `instances_owned_idle`, the oldest launch by `instances_state_launched` (the last three from
 * migration 20261202_0009_tick_indexes). A tick's survey then costs the same with 10 live rows
 * or 1,000. The partial-index conditions are written out as in the indexes, so SQLite matches
 * them.
 */
const survey = prepare((db: Db) => {
  const query = sql<{ purpose: string; state: string; free: number | string; pending: number | string; next_idle: number | string | null; oldest: number | string | null }>`${LIVE_GROUPS}
    select g."purpose", g."state",
      (select count(*) from "instances" i where i."purpose" = g."purpose" and i."state" = g."state" and i."owner_id" is null) as "free",
      (select count(*) from "instances" i where i."state" = g."state" and i."purpose" = g."purpose"
        and i."owner_id" is not null and (i."handed_over_to" is null or i."handed_over_to" <> i."owner_id")) as "pending",
      (select min(i."idle_deadline") from "instances" i where i."state" = g."state" and i."purpose" = g."purpose" and i."owner_id" is not null) as "next_idle",
      (select min(i."launched_at") from "instances" i where i."state" = g."state" and i."purpose" = g."purpose") as "oldest"
    from live_groups g where g."purpose" is not null`;
  return { compile: () => query.compile(db) };
});

/**
 * What the live rows add up to, grouped by purpose and state: the lifecycle loop reads it at
 * the start of a tick to skip the steps that have nothing to do.
 */
export async function surveyLive(db: Db): Promise<LiveGroup[]> {
  const { rows } = await survey(db);
  return rows.map((r) => ({
    purpose: r.purpose,
    state: r.state as InstanceState,
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

/** Live rows of one purpose and of the whole pool, in one statement (the warm step checks both limits). */
export async function countLiveOfPurposeAndPool(db: Db, purpose: string): Promise<{ purpose: number; pool: number }> {
  const { rows } = await liveOfPurposeAndPool(db, purpose);
  return { purpose: Number(rows[0]!.purpose), pool: Number(rows[0]!.pool) };
}

const liveOfPurposeAndPool = prepare((db: Db, purpose: string) =>
  db.selectNoFrom([liveQuery(db).where("purpose", "=", purpose).as("purpose"), liveQuery(db).as("pool")]),
);

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
