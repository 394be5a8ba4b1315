/**
 * Found by the crash harness: a launch that finishes between the terminate step's listing of
 * `releasing` rows and its in-flight check wrote the provider id the listing did not see, so
 * the row was closed without terminating what the launch started (an orphan process).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { terminateReleasing } from "../../backend/pool/lifecycle/terminate";
import { getInstance, updateInstance } from "../../backend/store/instances";
import { makePool } from "../support/pool";
import { createTestStore, skipFor, STORE_KINDS } from "../support/stores";

for (const kind of STORE_KINDS) {
  describe(`terminate step on ${kind}`, { skip: skipFor(kind) }, () => {
    it("terminates what a launch started even when the launch finished after the listing", async () => {
      const ts = await createTestStore(kind);
      try {
        const fx = await makePool(ts.store);
        const { instance } = await fx.pool.claim("alice");
        await fx.pool.release("alice", instance.id);
        const launched = await fx.provider.launch({ instanceId: instance.id, purpose: fx.pool.purpose(), poolName: fx.config.poolName, ownerId: null });
        // The launch completes exactly when the step asks whether it is in flight.
        const finishLaunch = (id: string) => {
          void updateInstance(fx.pool.db, id, { providerId: launched.providerId, updatedAt: fx.clock.now() });
          return false;
        };
        let done = false;
        const inFlight = (id: string) => {
          if (!done) {
            done = true;
            finishLaunch(id);
          }
          return false;
        };
        await new Promise((r) => setTimeout(r, 0));
        await terminateReleasing(fx.pool.ctx, inFlight);
        const row = await getInstance(fx.pool.db, instance.id);
        if (row?.state === "terminated") assert.deepEqual(fx.provider.terminated, [instance.id], "the provider was asked to terminate it");
        else assert.equal(row?.state, "releasing", "or it waits for the next tick");
        await terminateReleasing(fx.pool.ctx, () => false);
        assert.equal((await getInstance(fx.pool.db, instance.id))?.state, "terminated");
        assert.deepEqual(fx.provider.terminated, [instance.id]);
      } finally {
        await ts.cleanup();
      }
    });
  });
}
