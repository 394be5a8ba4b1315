/** Prepared queries: compiled once per dialect, run with new arguments, inside transactions too. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { prepare, prepareByShape } from "../../backend/store/prepared";
import type { Database } from "../../backend/store/schema";
import type { Kysely } from "kysely";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

type Db = Kysely<Database>;

const userById = prepare((db: Db, id: string) => db.selectFrom("users").select(["id", "is_admin"]).where("id", "=", id));
// One argument bound twice, next to a constant of the query.
const sameNameOrAdmin = prepare((db: Db, name: string) =>
  db.selectFrom("users").select("id").where((eb) => eb.or([eb("id", "=", name), eb.and([eb("is_admin", "=", 1), eb("id", "!=", name)])])).orderBy("id"),
);
const usersIn = prepareByShape(
  (n: number) => String(n),
  () =>
    (db: Db, ...ids: string[]) =>
      db.selectFrom("users").select("id").where("id", "in", ids).orderBy("id"),
);

for (const kind of STORE_KINDS) {
  describe(`prepared queries on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind);
      for (const [id, admin] of [["ann", 1], ["bob", 0], ["root", 1]] as const) {
        await ts.store.db.insertInto("users").values({ id, is_admin: admin, created_at: 1, revoked_at: null }).execute();
      }
    });
    after(async () => {
      await ts?.cleanup();
    });

    it("runs the same compiled query with each call's arguments", async () => {
      assert.deepEqual((await userById(ts.store.db, "ann")).rows.map((r) => r.id), ["ann"]);
      assert.deepEqual((await userById(ts.store.db, "bob")).rows.map((r) => r.id), ["bob"]);
      assert.deepEqual((await userById(ts.store.db, "nobody")).rows, []);
    });

    it("fills every place an argument is bound and keeps the query's own constants", async () => {
      assert.deepEqual((await sameNameOrAdmin(ts.store.db, "bob")).rows.map((r) => r.id), ["ann", "bob", "root"]);
      assert.deepEqual((await sameNameOrAdmin(ts.store.db, "ann")).rows.map((r) => r.id), ["ann", "root"]);
    });

    it("keeps one compiled query per shape", async () => {
      assert.deepEqual((await usersIn(2)(ts.store.db, "ann", "root")).rows.map((r) => r.id), ["ann", "root"]);
      assert.deepEqual((await usersIn(1)(ts.store.db, "bob")).rows.map((r) => r.id), ["bob"]);
      assert.deepEqual((await usersIn(2)(ts.store.db, "bob", "nobody")).rows.map((r) => r.id), ["bob"]);
    });

    it("runs inside a transaction, and sees what the transaction wrote", async () => {
      await assert.rejects(
        ts.store.db.transaction().execute(async (trx) => {
          await trx.insertInto("users").values({ id: "tmp", is_admin: 0, created_at: 1, revoked_at: null }).execute();
          assert.deepEqual((await userById(trx, "tmp")).rows.map((r) => r.id), ["tmp"]);
          throw new Error("roll back");
        }),
        /roll back/,
      );
      assert.deepEqual((await userById(ts.store.db, "tmp")).rows, []);
    });

    it("refuses an argument that is not a bound value", async () => {
      const misuse = prepare((db: Db, _unused: string) => db.selectFrom("users").select("id"));
      await assert.rejects(misuse(ts.store.db, "x"), /argument 0 is not a bound value/);
    });
  });
}
