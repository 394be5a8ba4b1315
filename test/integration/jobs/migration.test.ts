/** Migration 0007 (jobs, keep-alive holds, the one-instance-per-user index without job rows), up and down on both stores. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { migrateTo, migrateToLatest } from "../../../backend/store/migrate";
import { insertInstance, type Instance } from "../../../backend/store/instances";
import { getJob } from "../../../backend/store/jobs";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../../support/stores";

const BEFORE_JOBS = "20261202_0006_instance_job";
const now = 1_800_000_000_000;

function row(id: string, ownerId: string | null, jobId: string | null): Instance {
  return {
    id, purpose: "rstudio", provider: "local", providerId: `p-${id}`, state: "running", stateReason: null, ownerId, lastOwnerId: ownerId, instanceType: null, market: null,
    hourlyPrice: null, availabilityZone: null, privateDns: null, details: {}, handedOverTo: ownerId, jobId, launchAttempts: 1, nextAttemptAt: now, launchedAt: now,
    runningAt: now, assignedAt: now, idleDeadline: now + 60_000, endedAt: null, updatedAt: now,
  };
}

for (const kind of STORE_KINDS) {
  describe(`migration 0007 (jobs) on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind, (store) => migrateTo(store, BEFORE_JOBS));
    });
    after(async () => {
      await ts?.cleanup();
    });

    it("adds the jobs and holds tables and lets a user's job hold an instance beside their interactive one", async () => {
      const db = ts.store.db;
      await insertInstance(db, row("rsp-00000000000000b1", "ann", null));
      await assert.rejects(insertInstance(db, row("rsp-00000000000000b2", "ann", "job-00000000000000a1")), "before 0007 the index counts job rows too");
      assert.deepEqual(await migrateTo(ts.store, "20261202_0007_jobs"), ["20261202_0007_jobs"]);
      await insertInstance(db, row("rsp-00000000000000b2", "ann", "job-00000000000000a1"));
      await insertInstance(db, row("rsp-00000000000000b3", "ann", "job-00000000000000a2"));
      await assert.rejects(insertInstance(db, row("rsp-00000000000000b4", "ann", null)), "still one interactive instance per user and purpose");
      await db.insertInto("jobs").values({
        id: "job-00000000000000a1", owner_id: "ann", purpose: "rstudio", runner: "pool", state: "queued", state_reason: null, script_name: "m.R", spec: JSON.stringify({ script: "1" }),
        spec_bytes: 1, instance_id: null, run_ref: null, exit_code: null, created_at: now, placed_at: null, started_at: null, ended_at: null, deadline_at: null, cost: null, finalized_at: null, updated_at: now,
      }).execute();
      assert.equal((await getJob(db, "job-00000000000000a1"))!.spec.script, "1");
      await db.insertInto("keep_alive_holds").values({ instance_id: "rsp-00000000000000b1", owner_id: "ann", pid: 42, started_at: now, until_at: now + 1, ended_at: null, ended_reason: null, updated_at: now }).execute();
    });

    it("goes down to 0006 (once no user holds two instances) and up again", async () => {
      const db = ts.store.db;
      await db.deleteFrom("instances").where("job_id", "is not", null).execute();
      await migrateTo(ts.store, BEFORE_JOBS);
      await assert.rejects(db.selectFrom("jobs").selectAll().execute(), "the jobs table is gone");
      assert.deepEqual((await migrateToLatest(ts.store))[0], "20261202_0007_jobs");
      assert.deepEqual(await db.selectFrom("jobs").selectAll().execute(), []);
    });
  });
}
