/**
 * Counts over the live rows: the aggregate a tick starts with (which steps have work), and the
 * counts that the claims and the warm pool check their limits against, under the purpose lock.
 */
import { sql, type Kysely } from "kysely";
import { LIVE_STATES, SERVING_STATES, type InstanceState } from "../../../contract";
import { prepare } from "../prepared";
import { RUNNING_PURPOSES } from "./running-purposes";
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

/** The states an instance passes through on its way in and out: few rows are in them at any time. */
const PASSING: readonly InstanceState[] = LIVE_STATES.filter((s) => s !== "running");

/**
 * Two parts, in one statement (one snapshot of the table):
 * - the passing states (launching, booting, releasing, interrupting): an aggregate over their
 *   rows, which are few (an instance spends minutes in them);
 * - running, where nearly every live row is (about 700 at the peak of a 1,000-person day): per
 *   purpose (RUNNING_PURPOSES: one probe per purpose), four scalar probes, each answered by an index of migration
 *   20261202_0009_tick_indexes or by `instances_free` without reading the other rows.
 * The partial-index conditions are written out as in the indexes, so SQLite matches them.
 */
const survey = prepare((db: Db) => {
  const passing = sql.join(PASSING.map((s) => sql.lit(s)));
  const query = sql<{ purpose: string; state: string; free: number | string; pending: number | string; next_idle: number | string | null; oldest: number | string | null }>`
${RUNNING_PURPOSES}
    select "purpose", "state",
      sum(case when "owner_id" is null then 1 else 0 end) as "free",
      sum(case when "owner_id" is not null and ("handed_over_to" is null or "handed_over_to" <> "owner_id") then 1 else 0 end) as "pending",
      min(case when "owner_id" is not null then "idle_deadline" end) as "next_idle",
      min("launched_at") as "oldest"
    from "instances" where "state" in (${passing}) group by "purpose", "state"
    union all
    select r."purpose", 'running',
      (select count(*) from "instances" i where i."purpose" = r."purpose" and i."state" = 'running' and i."owner_id" is null),
      (select count(*) from "instances" i where i."state" = 'running' and i."purpose" = r."purpose"
        and i."owner_id" is not null and (i."handed_over_to" is null or i."handed_over_to" <> i."owner_id")),
      (select min(i."idle_deadline") from "instances" i where i."state" = 'running' and i."purpose" = r."purpose" and i."owner_id" is not null),
      (select min(i."launched_at") from "instances" i where i."state" = 'running' and i."purpose" = r."purpose")
    from running_purposes r where r."purpose" is not null`;
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
