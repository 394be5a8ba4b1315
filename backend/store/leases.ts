/**
 * Leases: the lifecycle loop runs on one replica at a time. A holder renews its lease before
 * half of it has passed; when it dies another replica takes over after the lease expires.
 */
import type { Kysely } from "kysely";
import { prepare } from "./prepared";
import type { Database } from "./schema";

const renew = prepare((db: Kysely<Database>, holder: string, expires: number, name: string, now: number) =>
  db
    .updateTable("leases")
    .set({ holder, expires_at: expires })
    .where("name", "=", name)
    .where((eb) => eb.or([eb("holder", "=", holder), eb("expires_at", "<", now)])),
);

export async function tryAcquireLease(
  db: Kysely<Database>,
  name: string,
  holder: string,
  now: number,
  ttlMs: number,
): Promise<boolean> {
  const expires = now + ttlMs;
  const renewed = await renew(db, holder, expires, name, now);
  if (Number(renewed.numAffectedRows ?? 0) > 0) return true;
  const inserted = await db
    .insertInto("leases")
    .values({ name, holder, expires_at: expires })
    .onConflict((oc) => oc.column("name").doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function releaseLease(db: Kysely<Database>, name: string, holder: string): Promise<void> {
  await db.deleteFrom("leases").where("name", "=", name).where("holder", "=", holder).execute();
}
