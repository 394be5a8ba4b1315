/**
 * The purposes that have running instances, as a common table expression `running_purposes`
 * for the lifecycle's per-tick reads. Running is where nearly every live row is (about 700 at
 * the peak of a 1,000-person day); rather than walk them, the query skips from one purpose to
 * the next in an index on (state, purpose, …): one probe per purpose plus one, on SQLite and
 * PostgreSQL alike (neither does such a "loose index scan" by itself). Its last row is null:
 * users of it filter `r.purpose is not null`.
 */
import { sql } from "kysely";

export const RUNNING_PURPOSES = sql`
    with recursive running_purposes(purpose) as (
      select min("purpose") from "instances" where "state" = 'running'
      union all
      select (select min(i."purpose") from "instances" i where i."state" = 'running' and i."purpose" > r."purpose")
      from running_purposes r where r."purpose" is not null
    )`;
