/**
 * The purpose locks: one row per purpose (and one for the whole pool) that claims and the warm
 * pool take inside their transaction, so a purpose's `max`, the pool's `maxInstances` and "one
 * serving instance per user and purpose" hold however many requests and replicas race.
 */
import type { Kysely } from "kysely";
import { prepare } from "./prepared";
import type { Database } from "./schema";

type Db = Kysely<Database>;

/** Lock row of the whole pool, taken after a purpose's row when a launch needs the pool-wide max. */
export const POOL_LOCK = "__pool__";

/** Takes the purpose's lock row for the rest of the transaction (a row lock in PostgreSQL, the write lock in SQLite). */
const bumpLock = prepare((db: Db, name: string, now: number) =>
  db
    .updateTable("purposes")
    .set((eb) => ({ lock_seq: eb("lock_seq", "+", 1), updated_at: now }))
    .where("name", "=", name),
);

export async function lockPurpose(db: Db, name: string, now: number): Promise<void> {
  const res = await bumpLock(db, name, now);
  if (Number(res.numAffectedRows ?? 0) === 0) {
    await db.insertInto("purposes").values({ name, lock_seq: 1, updated_at: now }).onConflict((oc) => oc.column("name").doNothing()).execute();
    await bumpLock(db, name, now);
  }
}

export async function ensurePurposeRows(db: Db, names: string[], now: number): Promise<void> {
  for (const name of [...names, POOL_LOCK]) {
    await db.insertInto("purposes").values({ name, lock_seq: 0, updated_at: now }).onConflict((oc) => oc.column("name").doNothing()).execute();
  }
}
