/**
 * The configured price of each purpose over time (`hourlyPrice` in the YAML): one row per
 * change seen at start-up, so instances running across a price change are billed at the
 * price in force from the change on, not at their launch price forever.
 */
import type { Kysely, Migration } from "kysely";

export function purposePrices(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("purpose_prices")
        .addColumn("purpose", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        // Null: from here on the purpose has no configured price (instances keep their launch price).
        .addColumn("hourly_price", "double precision")
        .addPrimaryKeyConstraint("purpose_prices_pk", ["purpose", "at"])
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable("purpose_prices").ifExists().execute();
    },
  };
}
