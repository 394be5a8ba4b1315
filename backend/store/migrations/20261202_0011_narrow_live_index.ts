/**
 * `instances_live` narrowed to (state, purpose, owner_id) (issue #16). It was made in 0003 for
 * the tick's old aggregate over every live row, with handed_over_to, idle_deadline and
 * launched_at so that aggregate read the index alone. Since 0009 the tick asks its questions
 * of other indexes (instances_owned_idle, instances_hand_over_pending,
 * instances_state_launched); what still reads `instances_live` wants only its first three
 * columns: the free counts (state, purpose, owner_id is null) and a user's serving row of a
 * purpose. The wide index was rewritten by every heartbeat (idle_deadline) and every
 * hand-over (handed_over_to), the commonest writes of a busy pool: a heartbeat now changes the
 * row and instances_owned_idle only.
 */
import type { Kysely, Migration } from "kysely";

export function narrowLiveIndex(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.dropIndex("instances_live").execute();
      await db.schema.createIndex("instances_live").on("instances").columns(["state", "purpose", "owner_id"]).execute();
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
