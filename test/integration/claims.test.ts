/**
 * The claim path statement by statement (issue #12): what a repeat claim, a warm claim and a
 * launch send to the database, the one-instance-per-user index that holds without the purpose
 * lock, and the `jobId` option of the batch jobs, on both stores.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PoolError } from "../../backend/errors";
import { claimInstance, newLaunchRow } from "../../backend/pool/claims";
import type { StatementCounts } from "../../backend/store/db";
import { listEvents } from "../../backend/store/events";
import { getInstance, insertInstance, isUniqueViolation, listAll } from "../../backend/store/instances";
import { migrateTo, migrateToLatest } from "../../backend/store/migrate";
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

    it("takes a warm spare with one guarded UPDATE and its event: one read, two writes, one transaction", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ minFree: 2, max: 2 })] });
      await settle(pool);
      let got;
      const sent = await statementsOf(async () => {
        got = await pool.claim("bob");
      });
      assert.equal(got!.source, "warm");
      assert.deepEqual(sent, { reads: 1, writes: 2, transactions: 2 }, "the own-instance read, UPDATE … RETURNING, the event; BEGIN and COMMIT");
      const row = (await getInstance(pool.db, got!.instance.id))!;
      assert.equal(row.ownerId, "bob");
      assert.equal(row.jobId, null);
      assert.deepEqual({ ...got!.instance }, { ...row }, "the answer is the row as written (RETURNING)");
      const [assigned] = await listEvents(pool.db, { instanceId: row.id }).then((es) => es.filter((e) => e.kind === "assigned"));
      assert.equal(assigned!.reason, "warm");
      assert.equal(assigned!.userId, "bob");
    });

    it("takes the longest-running spare first", async () => {
      const { pool, clock } = await fresh({ purposes: [aPurpose({ minFree: 3, max: 3 })] });
      await settle(pool);
      const spares = (await listAll(pool.db, { states: ["running"] })).sort((a, b) => a.runningAt! - b.runningAt!);
      // Make their running times distinct and in a known order.
      for (const [k, s] of spares.entries()) await ts.store.db.updateTable("instances").set({ running_at: clock.now() - 1000 * (k + 1) }).where("id", "=", s.id).execute();
      const first = await pool.claim("u1");
      assert.equal(first.instance.id, spares[spares.length - 1]!.id);
    });

    it("gives one user one instance when their claims race for warm spares, and leaves the other spares free", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ minFree: 6, max: 6 })] });
      await settle(pool);
      const outcomes = await Promise.all(Array.from({ length: 12 }, () => pool.claim("carol")));
      assert.equal(new Set(outcomes.map((o) => o.instance.id)).size, 1);
      assert.equal(outcomes.filter((o) => o.source === "warm").length, 1);
      const rows = await listAll(pool.db, { states: ["running"] });
      assert.equal(rows.filter((r) => r.ownerId === "carol").length, 1);
      assert.equal(rows.filter((r) => r.ownerId === null).length, 5);
    });

    it("never gives one spare to two users when 20 race for 8", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ minFree: 8, max: 8 })] });
      await settle(pool);
      const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => pool.claim(`racer-${i}`)));
      const won = settled.filter((s): s is PromiseFulfilledResult<Awaited<ReturnType<typeof pool.claim>>> => s.status === "fulfilled").map((s) => s.value);
      assert.equal(won.length, 8);
      assert.equal(new Set(won.map((o) => o.instance.id)).size, 8);
      for (const s of settled) if (s.status === "rejected") assert.equal((s.reason as PoolError).code, "POOL_EXHAUSTED");
    });

    it("has the database refuse a second serving interactive instance of one user and purpose, but not a batch job's", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ max: 10 })] });
      const now = pool.now();
      const row = (owner: string | null, jobId: string | null = null, state: "running" | "releasing" = "running") => ({
        ...newLaunchRow(pool.ctx, pool.purpose(), now, owner, owner ? now + 60_000 : null, jobId),
        state,
      });
      await insertInstance(pool.db, row("dora"));
      await assert.rejects(insertInstance(pool.db, row("dora")), (e) => isUniqueViolation(e));
      await insertInstance(pool.db, row("dora", "job-1"));
      await insertInstance(pool.db, row("dora", "job-2"));
      await insertInstance(pool.db, row(null));
      await insertInstance(pool.db, row(null));
      const mine = (await listAll(pool.db)).filter((r) => r.ownerId === "dora");
      assert.equal(mine.length, 3, "her session and two jobs");
    });

    it("has a burst of warm claims share one kicked tick", async () => {
      const { pool } = await fresh({ tickMs: 600_000, purposes: [aPurpose({ minFree: 20, max: 40 })] });
      await settle(pool);
      let ticks = 0;
      const tick = pool.loop.tick.bind(pool.loop);
      pool.loop.tick = (o) => {
        ticks++;
        return tick(o);
      };
      pool.start();
      try {
        await new Promise((r) => setTimeout(r, 300)); // the start's own tick
        const before = ticks;
        const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.claim(`burst-${i}`)));
        assert.ok(outcomes.every((o) => o.source === "warm"));
        await new Promise((r) => setTimeout(r, 500));
        const kicked = ticks - before;
        assert.ok(kicked >= 1 && kicked <= 3, `20 warm claims kicked ${kicked} ticks`);
      } finally {
        await pool.stop();
      }
    });

    it("terminates a burst of releases in one provider call", async () => {
      const { pool, provider } = await fresh({ purposes: [aPurpose({ minFree: 0, max: 12 })] });
      const claimed = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.claim(`leaver-${i}`)));
      await settle(pool);
      const calls: number[] = [];
      const terminate = provider.terminate.bind(provider);
      provider.terminate = (refs) => {
        calls.push(refs.length);
        return terminate(refs);
      };
      for (const [i, c] of claimed.entries()) await pool.release(`leaver-${i}`, c.instance.id);
      await pool.loop.tick();
      assert.deepEqual(calls, [12]);
      assert.equal((await listAll(pool.db, { states: ["terminated"] })).length, 12);
    });

    describe("with a jobId (batch jobs, issue #18)", () => {
      it("takes a warm spare, never the user's own instance, and records the job on the row", async () => {
        const { pool } = await fresh({ purposes: [aPurpose({ minFree: 2, max: 3 })] });
        await settle(pool);
        const own = await pool.claim("eve");
        const forJob = await claimInstance(pool.ctx, "eve", pool.purpose(), "job:j1", { jobId: "j1" });
        assert.equal(forJob.source, "warm");
        assert.notEqual(forJob.instance.id, own.instance.id);
        assert.equal(forJob.instance.jobId, "j1");
        assert.equal(forJob.instance.ownerId, "eve");
        assert.equal((await getInstance(pool.db, forJob.instance.id))!.jobId, "j1");
        const again = await pool.claim("eve");
        assert.equal(again.source, "existing");
        assert.equal(again.instance.id, own.instance.id, "her interactive claim never returns the job's instance");
      });

      it("launches when no spare is free, and keeps the purpose's maximum", async () => {
        const { pool } = await fresh({ purposes: [aPurpose({ max: 2 })] });
        const own = await pool.claim("fay");
        const j1 = await claimInstance(pool.ctx, "fay", pool.purpose(), "job:j1", { jobId: "j1" });
        assert.equal(j1.source, "launched");
        assert.equal(j1.instance.jobId, "j1");
        assert.notEqual(j1.instance.id, own.instance.id);
        assert.equal((await getInstance(pool.db, j1.instance.id))!.jobId, "j1");
        const before = await listAll(pool.db);
        await assert.rejects(claimInstance(pool.ctx, "fay", pool.purpose(), "job:j2", { jobId: "j2" }), (e: PoolError) => e.code === "POOL_EXHAUSTED");
        assert.deepEqual(await listAll(pool.db), before, "a refusal changes nothing");
      });

      it("is refused by the budget like any claim", async () => {
        const { pool } = await fresh({ purposes: [aPurpose({ minFree: 1, max: 3 })] });
        await settle(pool);
        pool.ctx.policies = {
          ...pool.ctx.policies,
          async checkClaimAllowed() {
            throw new PoolError("BUDGET_EXCEEDED", "over budget");
          },
        };
        const before = await listAll(pool.db);
        await assert.rejects(claimInstance(pool.ctx, "gus", pool.purpose(), "job:j3", { jobId: "j3" }), (e: PoolError) => e.code === "BUDGET_EXCEEDED");
        assert.deepEqual(await listAll(pool.db), before);
      });
    });
  });

  describe(`migration 0008 (the claim index) on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind, (store) => migrateTo(store, "20261202_0006_instance_job"));
    });
    after(async () => {
      await ts?.cleanup();
    });

    it("replaces the old one-per-owner index (which counted batch jobs' rows), and goes down and up again", async () => {
      const { pool } = await makePool(ts.store, { config: { purposes: [aPurpose({ max: 10 })] } });
      const now = pool.now();
      const row = (jobId: string | null) => ({ ...newLaunchRow(pool.ctx, pool.purpose(), now, "hana", now + 60_000, jobId), state: "running" as const });
      await insertInstance(pool.db, row(null));
      await assert.rejects(insertInstance(pool.db, row("job-1")), (e) => isUniqueViolation(e), "before 0008 a job's row collides with the session");
      // 0007 (jobs) first made the old index job-aware; 0008 replaces it.
      assert.deepEqual((await migrateToLatest(ts.store)).slice(0, 2), ["20261202_0007_jobs", "20261202_0008_claim_index"]);
      await insertInstance(pool.db, row("job-1"));
      await assert.rejects(insertInstance(pool.db, row(null)), (e) => isUniqueViolation(e));
      await ts.store.db.deleteFrom("instances").where("job_id", "is not", null).execute();
      await migrateTo(ts.store, "20261202_0006_instance_job");
      await assert.rejects(insertInstance(pool.db, row("job-2")), (e) => isUniqueViolation(e), "down restores the old index");
      assert.ok((await migrateToLatest(ts.store)).includes("20261202_0008_claim_index"));
    });
  });
}
