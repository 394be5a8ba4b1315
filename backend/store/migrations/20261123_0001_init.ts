/** First schema: users and hashed tokens, purposes (lock rows), instances, events, leases. */
import { sql, type Kysely, type Migration } from "kysely";
import type { Dialect } from "../db";

export function init(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("users")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("is_admin", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .execute();

      await db.schema
        .createTable("api_tokens")
        .addColumn("token_hash", "text", (c) => c.primaryKey())
        .addColumn("user_id", "text", (c) => c.notNull().references("users.id"))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .addColumn("last_used_at", "bigint")
        .execute();
      await db.schema.createIndex("api_tokens_user").on("api_tokens").column("user_id").execute();

      await db.schema
        .createTable("purposes")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("lock_seq", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("instances")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("purpose", "text", (c) => c.notNull())
        .addColumn("provider", "text", (c) => c.notNull())
        .addColumn("provider_id", "text")
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("state_reason", "text")
        .addColumn("owner_id", "text")
        .addColumn("last_owner_id", "text")
        .addColumn("instance_type", "text")
        .addColumn("market", "text")
        .addColumn("hourly_price", "double precision")
        .addColumn("availability_zone", "text")
        .addColumn("private_dns", "text")
        .addColumn("details", "text", (c) => c.notNull().defaultTo("{}"))
        .addColumn("launch_attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
        .addColumn("launched_at", "bigint", (c) => c.notNull())
        .addColumn("running_at", "bigint")
        .addColumn("assigned_at", "bigint")
        .addColumn("idle_deadline", "bigint")
        .addColumn("ended_at", "bigint")
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      // The database itself guarantees "one user never holds two instances of a purpose".
      await db.schema
        .createIndex("instances_one_per_owner")
        .unique()
        .on("instances")
        .columns(["owner_id", "purpose"])
        .where(sql.ref("owner_id"), "is not", null)
        .execute();
      await db.schema.createIndex("instances_state").on("instances").columns(["state", "purpose"]).execute();
      // Claims take the longest-running free instance of a purpose: this index answers that at once.
      await db.schema
        .createIndex("instances_free")
        .on("instances")
        .columns(["purpose", "state", "running_at"])
        .where(sql.ref("owner_id"), "is", null)
        .execute();
      await db.schema.createIndex("instances_provider_id").on("instances").column("provider_id").execute();
      await db.schema.createIndex("instances_last_owner").on("instances").column("last_owner_id").execute();

      let events = db.schema.createTable("events");
      events =
        dialect === "postgres"
          ? events.addColumn("id", "bigserial", (c) => c.primaryKey())
          : events.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());
      await events
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("instance_id", "text")
        .addColumn("user_id", "text")
        .addColumn("purpose", "text")
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("reason", "text")
        .addColumn("actor", "text", (c) => c.notNull())
        .addColumn("details", "text")
        .execute();
      await db.schema.createIndex("events_instance").on("events").columns(["instance_id", "at"]).execute();
      await db.schema.createIndex("events_user").on("events").columns(["user_id", "at"]).execute();
      await db.schema.createIndex("events_at").on("events").column("at").execute();

      await db.schema
        .createTable("leases")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("holder", "text", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      for (const t of ["leases", "events", "instances", "purposes", "api_tokens", "users"]) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  };
}
