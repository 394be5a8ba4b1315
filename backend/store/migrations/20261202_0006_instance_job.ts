/**
 * A batch job's instance (issue #18) is owned by the job's user like a claimed one, so the
 * ledger bills it to them and their budget counts it, but it is not their interactive
 * instance: a claim must never return it, and the job runner must never take the one they work
 * in. `job_id` names the job that holds the row; null for every interactive or spare instance.
 */
import type { Kysely, Migration } from "kysely";

export function instanceJob(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable("instances").addColumn("job_id", "text").execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable("instances").dropColumn("job_id").execute();
    },
  };
}
