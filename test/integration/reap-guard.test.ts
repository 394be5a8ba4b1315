/**
 * The guarded update the reaper takes an instance back with also requires the idle deadline to
 * have passed (a heartbeat that moved it in the meantime wins), on both stores.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getInstance, insertInstance } from "../../backend/store/instances";
import { writeStateGuarded } from "../../backend/store/instances/writes";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

for (const kind of STORE_KINDS) {
  describe(`reap guard on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind);
    });
    after(() => ts.cleanup());

    it("releases only while idle_deadline <= the given time", async () => {
      const db = ts.store.db;
      const now = 1_800_000_000_000;
      await insertInstance(db, {
        id: "rsp-00000000000ee001", purpose: "rstudio", provider: "local", providerId: "p-1", state: "running", stateReason: null, ownerId: "ann", lastOwnerId: "ann",
        instanceType: null, market: null, hourlyPrice: null, availabilityZone: null, privateDns: null, details: {}, handedOverTo: "ann", jobId: null, launchAttempts: 1, nextAttemptAt: now,
        launchedAt: now, runningAt: now, assignedAt: now, idleDeadline: now + 60_000, endedAt: null, updatedAt: now,
      });
      // The write the transition owner does for the reaper (backend/pool/transitions.ts).
      const release = { ownerId: null, idleDeadline: null, updatedAt: now };
      assert.equal(await writeStateGuarded(db, "rsp-00000000000ee001", ["running"], "releasing", release, undefined, now), false, "a heartbeat moved the deadline: not reaped");
      assert.equal((await getInstance(db, "rsp-00000000000ee001"))!.state, "running");
      assert.equal(await writeStateGuarded(db, "rsp-00000000000ee001", ["running"], "releasing", release, "ann", now + 60_000), true, "due: reaped");
      assert.equal((await getInstance(db, "rsp-00000000000ee001"))!.state, "releasing");
    });
  });
}
