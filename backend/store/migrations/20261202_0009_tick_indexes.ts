/**
 * Indexes that make a lifecycle tick a few index probes instead of a pass over every live row
 * (issue #16: at 1,000 people the tick's aggregate over about 700 running rows, and the boot
 * step's sorted read, were most of the tick). Each answers one question the tick asks:
 * - `instances_state_launched` (state, purpose, launched_at): the oldest running instance of a
 *   purpose (is one due for its lifetime limit?) and the rows of a state in launch order;
 * - `instances_owned_idle` (state, purpose, idle_deadline, owner_id), assigned rows only: the earliest
 *   idle deadline (is one due for the reaper?);
 * - `instances_hand_over_pending` (state, purpose, owner_id, handed_over_to), only rows whose owner has not been set up
 *   yet: a handful at any time, so "is a hand-over pending?" reads nothing else.
 * The partial indexes' conditions are the very terms the queries in ../instances/counts.ts
 * and reads.ts write, so SQLite (which matches them term by term) can use them, and each
 * carries the columns those queries read (owner_id, handed_over_to) so it covers them: without
 * statistics SQLite otherwise prefers the covering `instances_live` and walks every running row.
 */
import { sql, type Kysely, type Migration } from "kysely";

export const PENDING_HAND_OVER = sql<boolean>`"owner_id" is not null and ("handed_over_to" is null or "handed_over_to" <> "owner_id")`;

export function tickIndexes(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex("instances_state_launched").on("instances").columns(["state", "purpose", "launched_at"]).execute();
      await db.schema
        .createIndex("instances_owned_idle")
        .on("instances")
        .columns(["state", "purpose", "idle_deadline", "owner_id"])
        .where(sql.ref("owner_id"), "is not", null)
        .execute();
      await db.schema.createIndex("instances_hand_over_pending").on("instances").columns(["state", "purpose", "owner_id", "handed_over_to"]).where(PENDING_HAND_OVER).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex("instances_hand_over_pending").execute();
      await db.schema.dropIndex("instances_owned_idle").execute();
      await db.schema.dropIndex("instances_state_launched").execute();
    },
  };
}
