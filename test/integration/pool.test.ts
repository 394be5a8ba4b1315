import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PoolError } from "../../backend/errors";
import { Pool } from "../../backend/pool/service";
import { listEvents } from "../../backend/store/events";
import { getInstance, listAll, updateInstance } from "../../backend/store/instances";
import { aPurpose } from "../support/builders";
import { InstantProvider } from "../support/instant-provider";
import { makePool, settle } from "../support/pool";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

for (const kind of STORE_KINDS) {
  describe(`pool rules on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind);
    });
    after(async () => {
      await ts?.cleanup();
    });

    async function fresh(config = {}) {
      // Each test works on its own purpose names inside the shared database.
      await ts.store.db.deleteFrom("events").execute();
      await ts.store.db.deleteFrom("instances").execute();
      await ts.store.db.deleteFrom("leases").execute();
      return makePool(ts.store, { config });
    }

    it("launches for a first claim, returns the same instance to the same user, and a warm one to the next", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ minFree: 1, max: 5 })] });
      await settle(pool);
      const warm = (await listAll(pool.db)).filter((i) => i.state === "running" && i.ownerId === null);
      assert.equal(warm.length, 1, "the warm pool holds minFree=1 running spare");

      const a = await pool.claim("alice");
      assert.equal(a.source, "warm");
      assert.equal(a.instance.id, warm[0]!.id);
      const again = await pool.claim("alice");
      assert.equal(again.source, "existing");
      assert.equal(again.instance.id, a.instance.id);

      const b = await pool.claim("bob");
      assert.equal(b.source, "launched", "the replacement spare is not launched yet, so bob gets a new launch");
      assert.notEqual(b.instance.id, a.instance.id);
      assert.equal(b.instance.state, "launching");
      await settle(pool);
      assert.equal((await getInstance(pool.db, b.instance.id))!.state, "running");
    });

    it("refuses with POOL_EXHAUSTED when the purpose is at max, changing nothing", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ max: 2 })] });
      await pool.claim("u1");
      await pool.claim("u2");
      const before = await listAll(pool.db);
      await assert.rejects(pool.claim("u3"), (e: PoolError) => e.code === "POOL_EXHAUSTED" && e.status === 503);
      assert.deepEqual(await listAll(pool.db), before);
    });

    it("enforces the pool-wide maximum across purposes", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ name: "a", max: 5 }), aPurpose({ name: "b", max: 5 })], maxInstances: 3 });
      await pool.claim("u1", "a");
      await pool.claim("u2", "a");
      await pool.claim("u3", "b");
      await assert.rejects(pool.claim("u4", "b"), (e: PoolError) => e.code === "POOL_EXHAUSTED");
    });

    it("rejects an unknown purpose", async () => {
      const { pool } = await fresh();
      await assert.rejects(pool.claim("u1", "nope"), (e: PoolError) => e.code === "UNKNOWN_PURPOSE");
    });

    it("replenishes the warm pool to minFree without passing max", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ minFree: 3, max: 4 })] });
      await settle(pool);
      let rows = await listAll(pool.db, { states: ["running"] });
      assert.equal(rows.length, 3);
      await pool.claim("u1");
      await pool.claim("u2");
      await settle(pool);
      rows = await listAll(pool.db, { states: ["launching", "booting", "running"] });
      assert.equal(rows.length, 4, "2 assigned + 2 free: max 4 stops the third spare");
      assert.equal(rows.filter((r) => r.ownerId === null).length, 2);
    });

    it("finishes in one tick the work one step leaves for the next (reap, scale down, terminate)", async () => {
      const { pool, clock, provider } = await fresh({ purposes: [aPurpose({ idleTimeoutSeconds: 60, minFree: 2 })] });
      await settle(pool);
      const { instance } = await pool.claim("ida");
      await settle(pool);
      clock.advance(61_000);
      await pool.loop.tick();
      const reaped = (await getInstance(pool.db, instance.id))!;
      assert.deepEqual([reaped.state, reaped.stateReason], ["terminated", "idle"], "reaped and terminated by the same tick");
      assert.ok(provider.terminated.includes(instance.id));

      pool.config.purposes[0]!.minFree = 0;
      await pool.loop.tick();
      const spares = await listAll(pool.db, { states: ["launching", "booting", "running", "releasing"] });
      assert.deepEqual(spares, [], "spares scaled down and terminated by the same tick");
    });

    it("leaves the provider alone on a tick with nothing to do", async () => {
      const { pool, provider } = await fresh({ purposes: [aPurpose({ idleTimeoutSeconds: 600, minFree: 1 })] });
      await pool.claim("jo");
      await settle(pool);
      const before = { describe: provider.describeCalls.length, launch: provider.launchCalls.length, terminated: provider.terminated.length, assigned: provider.assigned.length };
      await pool.loop.tick();
      await pool.loop.tick();
      assert.deepEqual(
        { describe: provider.describeCalls.length, launch: provider.launchCalls.length, terminated: provider.terminated.length, assigned: provider.assigned.length },
        before,
      );
      assert.equal((await listAll(pool.db, { states: ["running"] })).length, 2, "jo's instance and one spare");
    });

    it("gives 200 concurrent users 200 distinct instances", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ max: 300 })] });
      const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
      const outcomes = await Promise.all(users.map((u) => pool.claim(u)));
      const ids = new Set(outcomes.map((o) => o.instance.id));
      assert.equal(ids.size, 200);
      const rows = await listAll(pool.db);
      assert.equal(rows.length, 200);
      assert.equal(new Set(rows.map((r) => r.ownerId)).size, 200);
    });

    it("gives one user one instance for 50 concurrent claims", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ max: 300 })] });
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => pool.claim("carol")));
      assert.equal(new Set(outcomes.map((o) => o.instance.id)).size, 1);
      assert.equal(outcomes.filter((o) => o.source === "launched").length, 1);
      assert.equal((await listAll(pool.db)).length, 1);
    });

    it("keeps the rules with two replicas claiming at once", { skip: kind === "sqlite" ? "SQLite serves one backend process; replicas need PostgreSQL" : false }, async () => {
      const { pool, config, provider, clock } = await fresh({ purposes: [aPurpose({ max: 300, minFree: 3 })] });
      await settle(pool);
      const replica = new Pool({ config, store: ts.reopen(), provider, clock });
      const claims = [
        ...Array.from({ length: 40 }, (_, i) => (i % 2 ? replica : pool).claim("carol")),
        ...Array.from({ length: 40 }, (_, i) => (i % 2 ? replica : pool).claim(`r${i}`)),
      ];
      const outcomes = await Promise.all(claims);
      assert.equal(new Set(outcomes.slice(0, 40).map((o) => o.instance.id)).size, 1, "carol holds one instance");
      const others = outcomes.slice(40).map((o) => o.instance.id);
      assert.equal(new Set(others).size, 40, "40 users, 40 instances");
      assert.ok(!others.includes(outcomes[0]!.instance.id));
    });

    it("never assigns one warm instance to two users under concurrency", async () => {
      const { pool } = await fresh({ purposes: [aPurpose({ minFree: 5, max: 40 })] });
      await settle(pool);
      const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => pool.claim(`w${i}`)));
      assert.equal(new Set(outcomes.map((o) => o.instance.id)).size, 30);
      assert.equal(outcomes.filter((o) => o.source === "warm").length, 5);
    });

    it("moves the idle deadline on heartbeat and reaps past it, recording why", async () => {
      const { pool, clock, provider } = await fresh({ purposes: [aPurpose({ idleTimeoutSeconds: 60 })] });
      const { instance } = await pool.claim("dave");
      await settle(pool);
      clock.advance(50_000);
      const hb = await pool.heartbeat("dave", instance.id);
      assert.equal(hb.idleDeadline, clock.now() + 60_000);
      clock.advance(50_000);
      await settle(pool);
      assert.equal((await getInstance(pool.db, instance.id))!.state, "running", "the heartbeat kept it alive");
      clock.advance(11_000);
      await settle(pool);
      const after = (await getInstance(pool.db, instance.id))!;
      assert.equal(after.state, "terminated");
      assert.equal(after.stateReason, "idle");
      assert.ok(provider.terminated.includes(instance.id));
      const kinds = (await listEvents(pool.db, { instanceId: instance.id })).map((e) => e.kind);
      assert.deepEqual(kinds, ["launch-requested", "assigned", "launched", "running", "reaped", "terminated"]);
      await assert.rejects(pool.heartbeat("dave", instance.id), (e: PoolError) => e.code === "INSTANCE_NOT_RUNNING");
    });

    it("extends instead of reaping when the provider says R is busy", async () => {
      const { pool, clock, provider } = await fresh({ purposes: [aPurpose({ idleTimeoutSeconds: 60 })] });
      const { instance } = await pool.claim("erin");
      await settle(pool);
      provider.busy.add(instance.id);
      clock.advance(61_000);
      await settle(pool);
      const row = (await getInstance(pool.db, instance.id))!;
      assert.equal(row.state, "running");
      assert.ok(row.idleDeadline! > clock.now());
      assert.ok((await listEvents(pool.db, { instanceId: instance.id })).some((e) => e.kind === "busy-extended"));
    });

    it("resumes an idle countdown after a restart exactly where it stopped", async () => {
      const { pool, clock, provider, config } = await fresh({ purposes: [aPurpose({ idleTimeoutSeconds: 120 })] });
      const { instance } = await pool.claim("frank");
      await settle(pool);
      await pool.stop();
      // A new backend process: new Pool object and connection, same database and provider.
      const restarted = new Pool({ config, store: ts.reopen(), provider, clock });
      await restarted.prepare();
      clock.advance(119_000);
      await settle(restarted);
      assert.equal((await getInstance(restarted.db, instance.id))!.state, "running");
      clock.advance(2_000);
      await settle(restarted);
      assert.equal((await getInstance(restarted.db, instance.id))!.state, "terminated");
    });

    it("finishes a launch that was in flight at a crash without launching twice", async () => {
      const { pool, clock, provider, config } = await fresh();
      provider.holdLaunches = true;
      const { instance } = await pool.claim("gina");
      await pool.loop.tick();
      // The provider launched, but the backend died before the answer came back.
      assert.deepEqual(provider.launchCalls, [instance.id]);
      assert.equal(provider.instances.size, 1);
      assert.equal((await getInstance(pool.db, instance.id))!.state, "launching");
      provider.holdLaunches = false;
      // The dead process's lease on the lifecycle loop (5 ticks of 60 s here) runs out before another process takes over.
      clock.advance(5 * config.tickMs + 1000);
      const restarted = new Pool({ config, store: ts.reopen(), provider, clock });
      await settle(restarted);
      const row = (await getInstance(restarted.db, instance.id))!;
      assert.equal(row.state, "running");
      assert.equal(row.ownerId, "gina");
      assert.equal(provider.instances.size, 1, "the instance was found again, not launched a second time");
    });

    it("retries a throttled launch and marks a hopeless one failed", async () => {
      const { pool, clock, provider } = await fresh({ purposes: [aPurpose({ max: 5 })] });
      provider.failNextLaunches.push(new PoolError("PROVIDER_THROTTLED", "RequestLimitExceeded"));
      const a = await pool.claim("h1");
      await settle(pool, 1);
      assert.equal((await getInstance(pool.db, a.instance.id))!.state, "launching");
      clock.advance(5_000);
      await settle(pool);
      assert.equal((await getInstance(pool.db, a.instance.id))!.state, "running");

      provider.failNextLaunches.push(new PoolError("PROVIDER_ERROR", "InvalidAMIID.NotFound"));
      const b = await pool.claim("h2");
      await settle(pool);
      const row = (await getInstance(pool.db, b.instance.id))!;
      assert.equal(row.state, "failed");
      assert.equal(row.ownerId, null, "the user is free to claim again");
      const again = await pool.claim("h2");
      assert.notEqual(again.instance.id, b.instance.id);
    });

    it("reconciles: vanished instances are lost, interrupted ones say so, and the user's next claim gets a new one", async () => {
      const { pool, provider } = await fresh({ purposes: [aPurpose({ max: 5 })] });
      const a = await pool.claim("ivan");
      const b = await pool.claim("judy");
      await settle(pool);
      provider.vanish(a.instance.id);
      provider.interrupt(b.instance.id);
      await pool.loop.tick({ forceReconcile: true });
      const ra = (await getInstance(pool.db, a.instance.id))!;
      const rb = (await getInstance(pool.db, b.instance.id))!;
      assert.equal(ra.state, "lost");
      assert.equal(rb.state, "interrupted");
      assert.equal(rb.stateReason, "Server.SpotInstanceTermination");
      const mine = await pool.listMine("judy");
      assert.equal(mine[0]!.state, "interrupted", "the user can still see why it ended");
      const next = await pool.claim("judy");
      assert.notEqual(next.instance.id, b.instance.id);
    });

    it("adopts an unknown pool instance when there is room and terminates one when there is not", async () => {
      const { pool, provider, config } = await fresh({ purposes: [aPurpose({ max: 1, minFree: 1 })] });
      provider.addStranger(config.poolName, "rstudio", "rsp-00000000000000aa");
      await pool.loop.tick({ forceReconcile: true });
      const adopted = (await listAll(pool.db)).find((r) => r.id === "rsp-00000000000000aa");
      assert.equal(adopted?.state, "running");
      provider.addStranger(config.poolName, "rstudio", "rsp-00000000000000bb");
      provider.addStranger(config.poolName, "no-such-purpose", "rsp-00000000000000cc");
      await pool.loop.tick({ forceReconcile: true });
      assert.ok(provider.terminated.includes("rsp-00000000000000bb"), "no room: terminated");
      assert.ok(provider.terminated.includes("rsp-00000000000000cc"), "unknown purpose: terminated");
      const fixes = (await listEvents(pool.db)).filter((e) => e.actor === "reconciler").map((e) => e.kind);
      assert.deepEqual(fixes.sort(), ["adopted", "orphan-terminated", "orphan-terminated"]);
    });

    it("prefers a warm instance in the zone of the user's home", async () => {
      const { pool, provider, clock } = await fresh({ purposes: [aPurpose({ minFree: 2, max: 5 })] });
      provider.zones = ["us-east-1a", "us-east-1b"];
      await settle(pool);
      const free = (await listAll(pool.db, { states: ["running"] })).sort((a, b) => a.launchedAt - b.launchedAt);
      assert.deepEqual(new Set(free.map((f) => f.availabilityZone)), new Set(["us-east-1a", "us-east-1b"]));
      const inB = free.find((f) => f.availabilityZone === "us-east-1b")!;
      // Make the zone-B spare the newest, so without the preference the zone-A one would be taken.
      clock.advance(1000);
      await updateInstance(pool.db, inB.id, { runningAt: clock.now() });
      provider.homeZones.set("olga", ["us-east-1b"]);
      const { instance } = await pool.claim("olga");
      assert.equal(instance.id, inB.id);
      provider.homeZones.set("pat", ["eu-west-1a"]);
      const other = await pool.claim("pat");
      assert.equal(other.source, "warm", "no instance in the user's zone: any warm one still beats a launch");
    });

    it("hands a warm instance over to its user through the provider", async () => {
      const { pool, provider } = await fresh({ purposes: [aPurpose({ minFree: 1 })] });
      await settle(pool);
      const { instance } = await pool.claim("kim");
      await settle(pool);
      assert.deepEqual(provider.assigned, [{ instanceId: instance.id, userId: "kim" }]);
      await settle(pool);
      assert.equal(provider.assigned.length, 1, "done once, not on every tick");
    });

    it("expires instances past their maximum lifetime", async () => {
      const { pool, clock } = await fresh({ purposes: [aPurpose({ maxLifetimeSeconds: 3600, idleTimeoutSeconds: 7200 })] });
      const { instance } = await pool.claim("lee");
      await settle(pool);
      clock.advance(3_601_000);
      await pool.heartbeat("lee", instance.id);
      await settle(pool);
      const row = (await getInstance(pool.db, instance.id))!;
      assert.equal(row.state, "terminated");
      assert.equal(row.stateReason, "max-lifetime");
    });

    it("lets a user release, and hides other users' instances", async () => {
      const { pool } = await fresh();
      const { instance } = await pool.claim("mia");
      await assert.rejects(pool.getMine("noah", instance.id), (e: PoolError) => e.code === "INSTANCE_NOT_FOUND");
      await assert.rejects(pool.release("noah", instance.id), (e: PoolError) => e.code === "INSTANCE_NOT_FOUND");
      await assert.rejects(pool.heartbeat("noah", instance.id), (e: PoolError) => e.code === "INSTANCE_NOT_FOUND");
      assert.equal((await getInstance(pool.db, instance.id))!.ownerId, "mia");
      const released = await pool.release("mia", instance.id);
      assert.equal(released.state, "releasing");
      await settle(pool);
      assert.equal((await getInstance(pool.db, instance.id))!.state, "terminated");
    });
  });
}

describe("provider wiring", () => {
  it("the instant provider is a complete Provider", () => {
    const p = new InstantProvider();
    for (const m of ["launch", "list", "describe", "terminate", "assign", "release", "connect", "isBusy", "priceOf", "close"]) {
      assert.equal(typeof (p as unknown as Record<string, unknown>)[m], "function", m);
    }
  });
});
