import assert from "node:assert/strict";
import type { RequestListener } from "node:http";
import { after, before, describe, it } from "node:test";
import request from "supertest";
import { LIVE_STATES, type InstanceState } from "../../contract";
import { createApp } from "../../backend/api/app";
import { LedgerCostService } from "../../backend/cost/service";
import { silentLogger } from "../../backend/log";
import { hashToken, insertToken, insertUser, newToken } from "../../backend/store/users";
import { aPurpose } from "../support/builders";
import { makePool, settle, type PoolFixture } from "../support/pool";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

for (const kind of STORE_KINDS) {
  describe(`admin reads (instances, events) on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    let fx: PoolFixture;
    let app: RequestListener;
    const tokens: Record<string, string> = {};
    const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });

    before(async () => {
      ts = await createTestStore(kind);
      for (const user of ["alice", "bob", "admin"]) {
        await insertUser(ts.store.db, user, user === "admin", Date.now());
        tokens[user] = newToken();
        await insertToken(ts.store.db, user, hashToken(tokens[user]!), Date.now());
      }
      fx = await makePool(ts.store, { config: { purposes: [aPurpose({ max: 3, minFree: 1, hourlyPrice: 0.5 })] } });
      app = createApp({ pool: fx.pool, costs: new LedgerCostService(fx.pool.db, fx.pool.config, fx.pool.ctx.clock), log: silentLogger(), version: "test" });
      await settle(fx.pool);
      await fx.pool.claim("alice");
      await settle(fx.pool);
      await fx.pool.claim("bob");
      await settle(fx.pool);
      fx.clock.advance(3_600_000);
    });
    after(async () => {
      await fx?.pool.stop();
      await ts?.cleanup();
    });

    it("lists every live instance with owner, state, since, idle deadline and cost so far", async () => {
      const res = await request(app).get("/v1/admin/instances").set(as("admin"));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const list = res.body.instances as Array<Record<string, unknown>>;
      const owned = list.filter((i) => i.ownerId).sort((a, b) => String(a.ownerId).localeCompare(String(b.ownerId)));
      assert.deepEqual(owned.map((i) => i.ownerId), ["alice", "bob"]);
      assert.ok(list.length >= 3, "the warm spare is listed too");
      for (const i of list) {
        assert.equal(i.purpose, "rstudio");
        assert.ok(LIVE_STATES.includes(i.state as InstanceState));
        assert.ok(!Number.isNaN(Date.parse(String(i.since))));
        assert.equal(i.currency, "USD");
        assert.equal(typeof i.costSoFar, "number");
      }
      for (const i of owned) {
        assert.ok(i.idleDeadline && !Number.isNaN(Date.parse(String(i.idleDeadline))));
        // An hour at 0.50 an hour (within the minute the claims took).
        assert.ok(Math.abs(Number(i.costSoFar) - 0.5) < 0.02, `cost so far ${i.costSoFar}`);
      }
    });

    it("refuses non-admins with 403 and anonymous callers with 401", async () => {
      for (const path of ["/v1/admin/instances", "/v1/admin/events"]) {
        const mine = await request(app).get(path).set(as("alice"));
        assert.equal(mine.status, 403);
        assert.equal(mine.body.error.code, "FORBIDDEN");
        const anon = await request(app).get(path);
        assert.equal(anon.status, 401);
        assert.equal(anon.body.error.code, "UNAUTHORIZED");
      }
    });

    it("filters the history by user, instance, kind and time", async () => {
      const alice = await request(app).get("/v1/admin/events?user=alice&limit=500").set(as("admin"));
      assert.equal(alice.status, 200, JSON.stringify(alice.body));
      assert.ok(alice.body.events.length > 0);
      assert.ok(alice.body.events.every((e: { userId: string }) => e.userId === "alice"));
      const assigned = await request(app).get("/v1/admin/events?kind=assigned,launched&order=asc").set(as("admin"));
      assert.ok(assigned.body.events.length >= 2);
      assert.ok(assigned.body.events.every((e: { kind: string }) => e.kind === "assigned" || e.kind === "launched"));
      const ids = assigned.body.events.map((e: { id: number }) => e.id);
      assert.deepEqual(ids, [...ids].sort((a: number, b: number) => a - b), "asc is oldest first");
      const one = alice.body.events[0].instanceId as string;
      const byInstance = await request(app).get(`/v1/admin/events?instance=${one}`).set(as("admin"));
      assert.ok(byInstance.body.events.every((e: { instanceId: string }) => e.instanceId === one));
      const future = new Date(fx.clock.now() + 86_400_000).toISOString();
      const none = await request(app).get(`/v1/admin/events?since=${future}`).set(as("admin"));
      assert.deepEqual(none.body, { events: [], nextCursor: null });
      const past = await request(app).get(`/v1/admin/events?until=${fx.clock.now() + 1}`).set(as("admin"));
      assert.ok(past.body.events.length > 0, "epoch milliseconds work too");
    });

    it("pages with a cursor: every event once, none twice", async () => {
      const all = await request(app).get("/v1/admin/events?limit=500").set(as("admin"));
      const seen: number[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const res: request.Response = await request(app).get(`/v1/admin/events?limit=2${cursor ? `&cursor=${cursor}` : ""}`).set(as("admin"));
        assert.equal(res.status, 200);
        assert.ok(res.body.events.length <= 2);
        seen.push(...res.body.events.map((e: { id: number }) => e.id));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      assert.deepEqual(seen, all.body.events.map((e: { id: number }) => e.id));
    });

    it("answers bad filters with 400 INVALID_REQUEST", async () => {
      for (const qs of ["kind=nope", "limit=0", "limit=501", "limit=ten", "since=yesterday", "cursor=xyz", "colour=blue", "order=up", "since=2026-12-02&until=2026-12-01", "user=a&user=b", "instance=../../etc"]) {
        const res = await request(app).get(`/v1/admin/events?${qs}`).set(as("admin"));
        assert.equal(res.status, 400, `${qs}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, "INVALID_REQUEST", qs);
        assert.ok(res.body.error.message.length > 10);
      }
    });

    it("is in the OpenAPI document", async () => {
      const o = await request(app).get("/v1/openapi.json");
      assert.ok(o.body.paths["/v1/admin/instances"]?.get);
      assert.ok(o.body.paths["/v1/admin/events"]?.get.parameters.some((p: { name: string }) => p.name === "cursor"));
      assert.ok(o.body.components.schemas.AdminInstance);
    });

    // Last, as it changes a row: an instance the cloud is taking back still holds a machine, so
    // an operator must see it among the live ones.
    it("lists an interrupting instance as live", async () => {
      const spare = await ts.store.db.selectFrom("instances").select("id").where("state", "=", "running").where("owner_id", "is", null).executeTakeFirstOrThrow();
      await ts.store.db.updateTable("instances").set({ state: "interrupting" }).where("id", "=", spare.id).execute();
      const res = await request(app).get("/v1/admin/instances").set(as("admin"));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.instances.find((i: { id: string }) => i.id === spare.id)?.state, "interrupting");
    });
  });
}
