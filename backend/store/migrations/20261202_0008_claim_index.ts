/**
 * Claims without the purpose lock (issue #12). A warm claim is one guarded UPDATE; what keeps
 * "one user, one interactive instance of a purpose" then is the database itself:
 * - `instances_one_serving` is unique on (owner, purpose) over the serving rows that are not a
 *   batch job's. It replaces `instances_one_per_owner` (any row with an owner), which also
 *   counted a job's instance, owned by the job's user but not their interactive one (#18), so
 *   a user could not run a job beside their session.
 * The states are written out (not bound) because a partial index serves only queries whose
 * WHERE states the same literals. The claim's pick needs no new index: `instances_free`
 * (purpose, state, running_at WHERE owner_id IS NULL, from 0001) is already in its order
 * (checked with EXPLAIN QUERY PLAN).
 */
import { sql, type Kysely, type Migration } from "kysely";

export function claimIndex(): Migration {
  return {
    async up(db: Kysely<any>) {
      await sql`create unique index if not exists instances_one_serving on instances (owner_id, purpose)
        where owner_id is not null and job_id is null and state in ('launching', 'booting', 'running')`.execute(db);
      await db.schema.dropIndex("instances_one_per_owner").ifExists().execute();
    },
    async down(db: Kysely<any>) {
      // Back to 0007's index: one owned, non-job row per user and purpose.
      await sql`create unique index if not exists instances_one_per_owner on instances (owner_id, purpose) where owner_id is not null and job_id is null`.execute(db);
      await db.schema.dropIndex("instances_one_serving").ifExists().execute();
    },
  };
}
