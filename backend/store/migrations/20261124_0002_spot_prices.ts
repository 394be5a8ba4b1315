/**
 * Spot price history (one row per observed change, so the ledger bills spot time at the price in
 * force), and the indexes the ledger and the warm-pool forecast read by.
 */
import type { Kysely, Migration } from "kysely";

export function spotPrices(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("spot_prices")
        .addColumn("instance_type", "text", (c) => c.notNull())
        .addColumn("availability_zone", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("hourly_price", "double precision", (c) => c.notNull())
        .addPrimaryKeyConstraint("spot_prices_pk", ["instance_type", "availability_zone", "at"])
        .execute();
      await db.schema.createIndex("spot_prices_at").on("spot_prices").column("at").execute();
      // The ledger reads the launch time of instances by kind; the warm-pool forecast reads claims by time.
      await db.schema.createIndex("events_kind_at").on("events").columns(["kind", "at"]).execute();
      await db.schema.createIndex("instances_launched").on("instances").column("launched_at").execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex("instances_launched").ifExists().execute();
      await db.schema.dropIndex("events_kind_at").ifExists().execute();
      await db.schema.dropTable("spot_prices").ifExists().execute();
    },
  };
}
