/**
 * Two things the lifecycle loop reads every tick, made cheap:
 * - the hand-over of an assigned instance to its owner (owner tag, home volume) becomes the
 *   column `handed_over_to`, so pending hand-overs are a comparison of two columns rather than
 *   JSON in every assigned row's details (existing rows keep what their details recorded);
 * - the index `instances_live` covers the loop's aggregate read of the live rows (surveyLive),
 *   which then never touches the table. It starts with (state, purpose), so it replaces
 *   `instances_state`.
 */
import type { Kysely, Migration } from "kysely";

export function handOverAndLiveIndex(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable("instances").addColumn("handed_over_to", "text").execute();
      const rows = await db.selectFrom("instances").select(["id", "details"]).where("owner_id", "is not", null).execute();
      for (const r of rows as Array<{ id: string; details: string | null }>) {
        const details = r.details ? (JSON.parse(r.details) as { assignedTo?: unknown }) : {};
        if (typeof details.assignedTo !== "string") continue;
        const { assignedTo, ...rest } = details;
        await db.updateTable("instances").set({ handed_over_to: assignedTo, details: JSON.stringify(rest) }).where("id", "=", r.id).execute();
      }
      await db.schema
        .createIndex("instances_live")
        .on("instances")
        .columns(["state", "purpose", "owner_id", "handed_over_to", "idle_deadline", "launched_at"])
        .execute();
      await db.schema.dropIndex("instances_state").execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.createIndex("instances_state").on("instances").columns(["state", "purpose"]).execute();
      await db.schema.dropIndex("instances_live").execute();
      await db.schema.alterTable("instances").dropColumn("handed_over_to").execute();
    },
  };
}
