/**
 * Common table expressions that list which purposes have rows in a state without walking the
 * rows: the query skips from one purpose to the next in an index on (state, purpose, …), one
 * probe per purpose plus one, on SQLite and PostgreSQL alike (neither does such a "loose index
 * scan" by itself). At 1,000 people about 700 rows are running at the peak of the day and up
 * to 60 booting; the lifecycle reads these lists every tick. Each list ends with a null
 * purpose: users filter `purpose is not null`.
 */
import { sql } from "kysely";
import { LIVE_STATES } from "../../../contract";

/** `running_purposes(purpose)`: the purposes with running rows. */
export const RUNNING_PURPOSES = sql`
    with recursive running_purposes(purpose) as (
      select min("purpose") from "instances" where "state" = 'running'
      union all
      select (select min(i."purpose") from "instances" i where i."state" = 'running' and i."purpose" > r."purpose")
      from running_purposes r where r."purpose" is not null
    )`;

const liveStates = sql.join(
  LIVE_STATES.map((s) => sql`select ${sql.lit(s)} as "state"`),
  sql` union all `,
);

/** `live_groups(state, purpose)`: every live state with each purpose that has rows in it. */
export const LIVE_GROUPS = sql`
    with recursive live_groups(state, purpose) as (
      select s."state", (select min(i."purpose") from "instances" i where i."state" = s."state")
      from (${liveStates}) s
      union all
      select g."state", (select min(i."purpose") from "instances" i where i."state" = g."state" and i."purpose" > g."purpose")
      from live_groups g where g."purpose" is not null
    )`;
