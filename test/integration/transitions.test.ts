/**
 * The state machine's one owner, on both stores: every allowed pair of the table works and
 * writes its event; every other pair is refused and leaves no trace; and a failure between the
 * row's write and its event leaves neither (the ledger bills from the events, so a state
 * without its event would lose an instance's billing).
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { INSTANCE_STATES, type InstanceState } from "../../contract";
import { newLaunchRow } from "../../backend/pool/claims";
import type { PoolContext } from "../../backend/pool/context";
import { createMetrics } from "../../backend/pool/metrics";
import { changeWithEvent, createInstance, isAllowed, transition, transitionFaults, TransitionRefused, TRANSITIONS } from "../../backend/pool/transitions";
import { listEvents } from "../../backend/store/events";
import { getInstance, insertInstance, type Instance } from "../../backend/store/instances";
import { silentLogger } from "../../backend/log";
import { aConfig, ManualClock } from "../support/builders";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

for (const kind of STORE_KINDS) {
  describe(`instance transitions on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    let ctx: PoolContext;
    before(async () => {
      ts = await createTestStore(kind);
      const config = aConfig();
      ctx = {
        db: ts.store.db,
        dialect: ts.store.dialect,
        config,
        provider: { kind: "test" } as PoolContext["provider"],
        clock: new ManualClock(),
        log: silentLogger(),
        metrics: createMetrics(),
        policies: {} as PoolContext["policies"],
      };
    });
    after(async () => {
      await ts?.cleanup();
    });
    afterEach(() => {
      delete transitionFaults.afterWrite;
    });

    let users = 0;
    async function rowIn(state: InstanceState, ownerId: string = `user-${++users}`): Promise<Instance> {
      const row = { ...newLaunchRow(ctx, ctx.config.purposes[0]!, ctx.clock.now(), ownerId, null), state, providerId: `p-${users}` };
      await insertInstance(ctx.db, row);
      return (await getInstance(ctx.db, row.id))!;
    }

    const released = { userId: "alice", purpose: "rstudio", kind: "released" as const, reason: "test", actor: "test" };

    it("walks the table: each allowed pair changes the row and writes one event; every other pair is refused without a trace", async () => {
      let allowed = 0;
      let refused = 0;
      for (const from of INSTANCE_STATES) {
        for (const to of INSTANCE_STATES) {
          const before = await rowIn(from);
          const attempt = transition(ctx, before.id, { from, to, patch: { stateReason: "walked", updatedAt: before.updatedAt + 1 }, event: released });
          if (isAllowed(from, to)) {
            assert.equal(await attempt, true, `${from} → ${to} is allowed`);
            const after = (await getInstance(ctx.db, before.id))!;
            assert.equal(after.state, to);
            assert.equal(after.stateReason, "walked");
            assert.equal((await listEvents(ctx.db, { instanceId: before.id })).length, 1, `${from} → ${to} wrote its event`);
            allowed++;
          } else {
            await assert.rejects(attempt, TransitionRefused, `${from} → ${to} is refused`);
            assert.deepEqual(await getInstance(ctx.db, before.id), before, `${from} → ${to} left the row as it was`);
            assert.deepEqual(await listEvents(ctx.db, { instanceId: before.id }), [], `${from} → ${to} wrote no event`);
            refused++;
          }
        }
      }
      const inTable = Object.values(TRANSITIONS).reduce((n, tos) => n + Object.keys(tos).length, 0);
      assert.equal(allowed, inTable);
      assert.equal(allowed + refused, INSTANCE_STATES.length ** 2);
    });

    it("refuses a guard that mixes an allowed and a forbidden pair, before writing", async () => {
      const before = await rowIn("running");
      await assert.rejects(transition(ctx, before.id, { from: ["running", "terminated"], to: "running", event: released }), TransitionRefused);
      assert.deepEqual(await getInstance(ctx.db, before.id), before);
    });

    it("changes nothing and says so when the row has moved on (the guard does not match)", async () => {
      const before = await rowIn("releasing");
      assert.equal(await transition(ctx, before.id, { from: "running", to: "releasing", event: released }), false);
      assert.deepEqual(await getInstance(ctx.db, before.id), before);
      assert.deepEqual(await listEvents(ctx.db, { instanceId: before.id }), []);
    });

    it("a failure between the row's write and its event leaves neither (transition, creation, other changes)", async () => {
      transitionFaults.afterWrite = () => {
        throw new Error("injected crash between the write and the event");
      };
      const running = await rowIn("running", "alice");
      await assert.rejects(transition(ctx, running.id, { from: "running", to: "releasing", patch: { ownerId: null }, event: released }), /injected/);
      assert.deepEqual(await getInstance(ctx.db, running.id), running, "the state change was rolled back");
      assert.deepEqual(await listEvents(ctx.db, { instanceId: running.id }), []);

      const fresh = newLaunchRow(ctx, ctx.config.purposes[0]!, ctx.clock.now(), null, null);
      await assert.rejects(createInstance(ctx, fresh, [{ userId: null, purpose: "rstudio", kind: "launch-requested", actor: "test" }]), /injected/);
      assert.equal(await getInstance(ctx.db, fresh.id), null, "the new row was rolled back");
      assert.deepEqual(await listEvents(ctx.db, { instanceId: fresh.id }), []);

      await assert.rejects(
        changeWithEvent(ctx, running.id, { idleDeadline: 1 }, { ownerId: "alice" }, { userId: "alice", purpose: "rstudio", kind: "busy-extended", actor: "test" }),
        /injected/,
      );
      assert.deepEqual(await getInstance(ctx.db, running.id), running);

      // Inside a caller's transaction the whole transaction goes.
      const other = await rowIn("running");
      await assert.rejects(
        ctx.db.transaction().execute(async (trx) => {
          await transition(ctx, other.id, { from: "running", to: "releasing", event: released }, trx);
        }),
        /injected/,
      );
      assert.deepEqual(await getInstance(ctx.db, other.id), other);

      delete transitionFaults.afterWrite;
      assert.equal(await transition(ctx, running.id, { from: "running", to: "releasing", event: released }), true, "without the fault the same change works");
      assert.equal((await listEvents(ctx.db, { instanceId: running.id })).length, 1);
    });

    it("creates rows only in the states new rows start in", async () => {
      const row = { ...newLaunchRow(ctx, ctx.config.purposes[0]!, ctx.clock.now(), null, null), state: "terminated" as const };
      await assert.rejects(createInstance(ctx, row, []), TransitionRefused);
      assert.equal(await getInstance(ctx.db, row.id), null);
    });
  });
}
