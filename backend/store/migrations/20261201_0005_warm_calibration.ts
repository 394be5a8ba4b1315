/**
 * The adaptive warm pool's calibration: per purpose and hour of the week (0 = Monday 00:00 UTC),
 * how far the planned service level is raised above the purpose's target because the warm
 * share measured there fell short. It is the only state of the policy that cannot be derived
 * again from the events table (what it measured came out of what it had planned), so it lives
 * here and survives restarts.
 */
import type { Kysely, Migration } from "kysely";

export function warmCalibration(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("warm_calibration")
        .addColumn("purpose", "text", (c) => c.notNull())
        .addColumn("hour_of_week", "integer", (c) => c.notNull())
        .addColumn("boost", "double precision", (c) => c.notNull())
        // The absolute hour (ms since epoch / 1 h) whose outcome was applied last: an hour is applied once.
        .addColumn("applied_hour", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("warm_calibration_pk", ["purpose", "hour_of_week"])
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable("warm_calibration").ifExists().execute();
    },
  };
}
