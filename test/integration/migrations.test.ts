/** Upgrading a database that an older release wrote: what it held must mean the same afterwards. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { migrateTo, migrateToLatest } from "../../backend/store/migrate";
import { findPendingHandOvers, getInstance, surveyLive } from "../../backend/store/instances";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

const BEFORE_HAND_OVER_COLUMN = "20261124_0002_spot_prices";

for (const kind of STORE_KINDS) {
  describe(`migrations on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind, (store) => migrateTo(store, BEFORE_HAND_OVER_COLUMN));
    });
    after(async () => {
      await ts?.cleanup();
    });

    it("moves recorded hand-overs from details into handed_over_to, so pending ones stay pending", async () => {
      const db = ts.store.db;
      const now = 1_800_000_000_000;
      const row = (id: string, owner: string | null, details: Record<string, unknown>) => ({
        id,
        purpose: "rstudio",
        provider: "ec2",
        provider_id: `i-${id}`,
        state: "running",
        state_reason: null,
        owner_id: owner,
        last_owner_id: owner,
        instance_type: "t3.large",
        market: "on-demand",
        hourly_price: 0.08,
        availability_zone: "us-east-1a",
        private_dns: null,
        details: JSON.stringify(details),
        launch_attempts: 1,
        next_attempt_at: now,
        launched_at: now,
        running_at: now,
        assigned_at: owner ? now : null,
        idle_deadline: owner ? now + 3_600_000 : null,
        ended_at: null,
        updated_at: now,
      });
      // The old schema has no handed_over_to column: write rows as the old release did.
      await (db as any)
        .insertInto("instances")
        .values([
          row("rsp-00000000000000a1", "ann", { assignedTo: "ann", homeVolumeId: "vol-1" }),
          row("rsp-00000000000000a2", "ben", { assignedTo: "old-owner", assignError: "throttled" }),
          row("rsp-00000000000000a3", "cat", {}),
          row("rsp-00000000000000a4", null, { homeVolumeId: "vol-4" }),
        ])
        .execute();

      // Later migrations follow it; this one must be the first to run.
      assert.equal((await migrateToLatest(ts.store))[0], "20261125_0003_hand_over_and_live_index");

      const ann = (await getInstance(db, "rsp-00000000000000a1"))!;
      assert.equal(ann.handedOverTo, "ann");
      assert.deepEqual(ann.details, { homeVolumeId: "vol-1" }, "other details are kept");
      assert.equal((await getInstance(db, "rsp-00000000000000a2"))!.handedOverTo, "old-owner");
      assert.equal((await getInstance(db, "rsp-00000000000000a3"))!.handedOverTo, null);
      assert.equal((await getInstance(db, "rsp-00000000000000a4"))!.handedOverTo, null);
      assert.deepEqual((await findPendingHandOvers(db)).map((i) => i.id).sort(), ["rsp-00000000000000a2", "rsp-00000000000000a3"]);
      const [running] = await surveyLive(db);
      assert.deepEqual(
        { ...running },
        { purpose: "rstudio", state: "running", free: 1, pendingHandOvers: 2, nextIdleDeadline: now + 3_600_000, oldestLaunchedAt: now },
      );
    });

    it("goes back down to the older schema and up again", async () => {
      await migrateTo(ts.store, BEFORE_HAND_OVER_COLUMN);
      // Later migrations follow it; this one must be the first to run.
      assert.equal((await migrateToLatest(ts.store))[0], "20261125_0003_hand_over_and_live_index");
    });
  });
}
