/**
 * `instances_live` narrowed to (owner_id, purpose, state) (issue #16). It was made in 0003 for
 * the tick's old aggregate over every live row, with handed_over_to, idle_deadline and
 * launched_at so that aggregate read the index alone. Since 0009 the tick asks its questions
 * of other indexes (instances_owned_idle, instances_hand_over_pending,
 * instances_state_launched); what still reads `instances_live` is a user's serving row of a
 * purpose (owner, purpose, state) and the free counts (no owner, a purpose, a state): both
 * equalities on all three columns. The wide index was rewritten by every heartbeat
 * (idle_deadline) and every hand-over (handed_over_to), the commonest writes of a busy pool: a
 * heartbeat now changes the row and instances_owned_idle only. The owner comes first so that
 * the pending hand-overs' read ("state = ?, purpose = ?, owner_id is not null") keeps to
 * instances_hand_over_pending: an index starting (state, purpose, owner_id) and narrower than
 * it won SQLite's choice there and walked every assigned running row (65 → 450 µs a read).
 */
import type { Kysely, Migration } from "kysely";

export function narrowLiveIndex(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.dropIndex("instances_live").execute();
      await db.schema.createIndex("instances_live").on("instances").columns(["owner_id", "purpose", "state"]).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex("instances_live").execute();
      await db.schema
        .createIndex("instances_live")
        .on("instances")
        .columns(["state", "purpose", "owner_id", "handed_over_to", "idle_deadline", "launched_at"])
        .execute();
    },
  };
}
