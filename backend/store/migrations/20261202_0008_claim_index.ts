/**
 * Claims without the purpose lock (issue #12). A warm claim is one guarded UPDATE; what keeps
 * "one user, one interactive instance of a purpose" then is the database itself:
 * - `instances_one_serving` is unique on (owner, purpose) over the serving rows that are not a
 *   batch job's. It replaces `instances_one_per_owner` (any row with an owner), which also
 *   counted a job's instance, owned by the job's user but not their interactive one (#18), so
 *   a user could not run a job beside their session.
 * - `instances_free_running` lists the warm spares of a purpose in the order claims take them
 *   (longest running first), so the claim's pick is one index step, not a sort of every spare.
 * The states are written out (not bound) because a partial index serves only queries whose
 * WHERE states the same literals.
 */
import { sql, type Kysely, type Migration } from "kysely";

export function claimIndex(): Migration {
  return {
    async up(db: Kysely<any>) {
      await sql`create unique index if not exists instances_one_serving on instances (owner_id, purpose)
        where owner_id is not null and job_id is null and state in ('launching', 'booting', 'running')`.execute(db);
      await db.schema.dropIndex("instances_one_per_owner").ifExists().execute();
      await sql`create index if not exists instances_free_running on instances (purpose, running_at)
        where state = 'running' and owner_id is null`.execute(db);
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex("instances_free_running").ifExists().execute();
      await sql`create unique index if not exists instances_one_per_owner on instances (owner_id, purpose) where owner_id is not null`.execute(db);
      await db.schema.dropIndex("instances_one_serving").ifExists().execute();
    },
  };
}
