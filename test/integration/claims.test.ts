/**
 * The claim path statement by statement (issue #12): what a repeat claim, a warm claim and a
 * launch send to the database, the one-instance-per-user index that holds without the purpose
 * lock, and the `jobId` option of the batch jobs, on both stores.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { StatementCounts } from "../../backend/store/db";
import { aPurpose } from "../support/builders";
import { makePool, settle } from "../support/pool";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

for (const kind of STORE_KINDS) {
  describe(`the claim path on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind);
    });
    after(async () => {
      await ts?.cleanup();
    });

    async function fresh(config = {}) {
      await ts.store.db.deleteFrom("events").execute();
      await ts.store.db.deleteFrom("instances").execute();
      await ts.store.db.deleteFrom("leases").execute();
      return makePool(ts.store, { config });
    }

    /** What `work` sent to the database. */
    async function statementsOf(work: () => Promise<unknown>): Promise<StatementCounts> {
      const s = ts.store.statements!;
      const before = { ...s };
      await work();
      return { reads: s.reads - before.reads, writes: s.writes - before.writes, transactions: s.transactions - before.transactions };
    }

    it("answers a repeat claim with one read and writes nothing (no lock row, no transaction)", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ minFree: 1, max: 3 })] });
      await settle(pool);
      const first = await pool.claim("alice");
      assert.equal(first.source, "warm");
      const lockSeq = async () => (await ts.store.db.selectFrom("purposes").select("lock_seq").where("name", "=", "rstudio").executeTakeFirstOrThrow()).lock_seq;
      const seqBefore = await lockSeq();
      let again;
      const sent = await statementsOf(async () => {
        again = await pool.claim("alice");
      });
      assert.equal(again!.source, "existing");
      assert.equal(again!.instance.id, first.instance.id);
      assert.deepEqual(sent, { reads: 1, writes: 0, transactions: 0 });
      assert.equal(await lockSeq(), seqBefore, "the purpose's lock row is not bumped");
    });
  });
}
