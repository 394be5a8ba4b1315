/**
 * Batch jobs (issue #18): one row per job with its state, where it runs and how its runner
 * finds its process again (`run_ref`), so a restarted backend picks every job up where it was;
 * and the keep-alive holds ("keep this instance until this process ends, at most N hours"),
 * one per instance. Their history is in the events table (kinds job-… and keep-alive-…).
 *
 * "One user never holds two instances of a purpose" (the unique index of 0001) is about
 * interactive instances: a user's batch jobs each hold an instance of their own beside the one
 * they work in, so the index now leaves out rows that a job holds (`job_id` set).
 */
import { sql, type Kysely, type Migration } from "kysely";

export function jobs(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("jobs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("owner_id", "text", (c) => c.notNull())
        .addColumn("purpose", "text", (c) => c.notNull())
        .addColumn("runner", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("state_reason", "text")
        .addColumn("script_name", "text")
        // What the runner needs to start it (script or command, args, env, files), as JSON; emptied once it ended.
        .addColumn("spec", "text", (c) => c.notNull())
        .addColumn("spec_bytes", "integer", (c) => c.notNull())
        .addColumn("instance_id", "text")
        .addColumn("run_ref", "text")
        .addColumn("exit_code", "integer")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("placed_at", "bigint")
        .addColumn("started_at", "bigint")
        .addColumn("ended_at", "bigint")
        .addColumn("deadline_at", "bigint")
        .addColumn("cost", "double precision")
        // Set once its process is stopped and its instance released: nothing is left to clean up.
        .addColumn("finalized_at", "bigint")
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("jobs_state_idx").on("jobs").columns(["state", "created_at"]).execute();
      await db.schema.createIndex("jobs_owner_idx").on("jobs").columns(["owner_id", "created_at"]).execute();
      await db.schema
        .createTable("keep_alive_holds")
        .addColumn("instance_id", "text", (c) => c.primaryKey())
        .addColumn("owner_id", "text", (c) => c.notNull())
        .addColumn("pid", "integer", (c) => c.notNull())
        .addColumn("started_at", "bigint", (c) => c.notNull())
        .addColumn("until_at", "bigint", (c) => c.notNull())
        .addColumn("ended_at", "bigint")
        .addColumn("ended_reason", "text")
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.dropIndex("instances_one_per_owner").execute();
      await db.schema
        .createIndex("instances_one_per_owner")
        .unique()
        .on("instances")
        .columns(["owner_id", "purpose"])
        .where((eb) => eb.and([eb(sql.ref("owner_id"), "is not", null), eb(sql.ref("job_id"), "is", null)]))
        .execute();
    },
    async down(db: Kysely<any>) {
      // Back to one instance per user and purpose, jobs' included (fails while a user's job holds a second one).
      await db.schema.dropIndex("instances_one_per_owner").execute();
      await db.schema.createIndex("instances_one_per_owner").unique().on("instances").columns(["owner_id", "purpose"]).where(sql.ref("owner_id"), "is not", null).execute();
      await db.schema.dropTable("keep_alive_holds").ifExists().execute();
      await db.schema.dropIndex("jobs_owner_idx").ifExists().execute();
      await db.schema.dropIndex("jobs_state_idx").ifExists().execute();
      await db.schema.dropTable("jobs").ifExists().execute();
    },
  };
}
