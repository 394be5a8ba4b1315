import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import request from "supertest";
import type { RequestListener } from "node:http";
import { createApp } from "../../backend/api/app";
import { TokenCache } from "../../backend/api/auth";
import { heartbeatFastPath } from "../../backend/api/heartbeat-fast-path";
import { LedgerCostService } from "../../backend/cost/service";
import { silentLogger } from "../../backend/log";
import { listAll } from "../../backend/store/instances";
import { hashToken, insertToken, insertUser, newToken } from "../../backend/store/users";
import { aPurpose } from "../support/builders";
import { makePool, settle, type PoolFixture } from "../support/pool";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

const APP_KEY = "app-key-for-tests";
const PROXY_KEY = "proxy-key-for-tests";

for (const kind of STORE_KINDS) {
  describe(`HTTP API on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    let fx: PoolFixture;
    let app: RequestListener;
    const tokens: Record<string, string> = {};

    before(async () => {
      ts = await createTestStore(kind);
      for (const user of ["alice", "bob", "admin"]) {
        await insertUser(ts.store.db, user, user === "admin", Date.now());
        tokens[user] = newToken();
        await insertToken(ts.store.db, user, hashToken(tokens[user]!), Date.now());
      }
    });
    after(async () => {
      await ts?.cleanup();
    });
    beforeEach(async () => {
      await ts.store.db.deleteFrom("events").execute();
      await ts.store.db.deleteFrom("instances").execute();
      await ts.store.db.deleteFrom("leases").execute();
      fx = await makePool(ts.store, { config: { purposes: [aPurpose({ max: 2, hourlyPrice: 0.5, description: "R for everyone" })] } });
      app = createApp({ pool: fx.pool, costs: new LedgerCostService(fx.pool.db, fx.pool.config, fx.pool.ctx.clock), log: silentLogger(), version: "test" });
    });

    const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });

    async function unchanged<T>(fn: () => Promise<T>): Promise<T> {
      const before = await listAll(fx.pool.db);
      const events = await ts.store.db.selectFrom("events").select("id").execute();
      const out = await fn();
      assert.deepEqual(await listAll(fx.pool.db), before, "instances unchanged");
      assert.equal((await ts.store.db.selectFrom("events").select("id").execute()).length, events.length, "history unchanged");
      return out;
    }

    function expectError(res: request.Response, status: number, code: string): void {
      assert.equal(res.status, status, `status for ${code}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code);
      assert.equal(typeof res.body.error.message, "string");
      assert.ok(res.body.error.message.length > 10);
    }

    it("answers /healthz, /metrics and the OpenAPI document", async () => {
      const h = await request(app).get("/healthz");
      assert.equal(h.status, 200);
      await request(app).post("/v1/claims").set(as("alice")).send({});
      const m = await request(app).get("/metrics");
      assert.equal(m.status, 200);
      assert.match(m.text, /rstudio_pool_instances\{purpose="rstudio",state="launching",assigned="yes"\} 1/);
      assert.match(m.text, /rstudio_pool_claims_total\{purpose="rstudio",source="launched"\} 1/);
      assert.match(m.text, /rstudio_pool_claim_duration_seconds_bucket/);
      const o = await request(app).get("/v1/openapi.json");
      assert.equal(o.body.openapi, "3.1.0");
      for (const p of ["/v1/me", "/v1/purposes", "/v1/claims", "/v1/instances", "/v1/instances/{id}", "/v1/instances/{id}/heartbeat", "/v1/instances/{id}/connection", "/v1/costs"]) {
        assert.ok(o.body.paths[p], `openapi documents ${p}`);
      }
    });

    it("serves the whole user flow: me, purposes, claim, list, heartbeat, connection, costs, release", async () => {
      const me = await request(app).get("/v1/me").set(as("alice"));
      assert.deepEqual(me.body, { userId: "alice", isAdmin: false });
      const purposes = await request(app).get("/v1/purposes").set(as("alice"));
      assert.equal(purposes.body.defaultPurpose, "rstudio");
      assert.equal(purposes.body.purposes[0].description, "R for everyone");
      assert.equal(purposes.body.purposes[0].hourlyPrice, 0.5);

      const claim = await request(app).post("/v1/claims").set(as("alice")).send({ purpose: "rstudio" });
      assert.equal(claim.status, 201);
      assert.equal(claim.body.source, "launched");
      const id = claim.body.instance.instanceId;
      assert.match(id, /^rsp-[0-9a-f]{16}$/);
      const again = await request(app).post("/v1/claims").set(as("alice")).send({});
      assert.equal(again.status, 200);
      assert.equal(again.body.source, "existing");

      const notYet = await request(app).post(`/v1/instances/${id}/connection`).set(as("alice")).send({});
      expectError(notYet, 409, "INSTANCE_NOT_RUNNING");
      await settle(fx.pool);

      const list = await request(app).get("/v1/instances").set(as("alice"));
      assert.equal(list.body.instances.length, 1);
      assert.equal(list.body.instances[0].state, "running");
      assert.equal(list.body.instances[0].hourlyPrice, 0.5);

      fx.clock.advance(30_000);
      const hb = await request(app).post(`/v1/instances/${id}/heartbeat`).set(as("alice"));
      assert.equal(hb.status, 200);
      assert.equal(hb.body.idleDeadline, new Date(fx.clock.now() + 3600_000).toISOString());

      const conn = await request(app).post(`/v1/instances/${id}/connection`).set(as("alice")).send({ localPort: 40000 });
      assert.deepEqual(conn.body, { kind: "direct", host: "127.0.0.1", port: 8787, path: `/${id}/` });

      fx.clock.advance(3600_000);
      const costs = await request(app).get("/v1/costs").set(as("alice"));
      assert.equal(costs.body.currency, "USD");
      assert.equal(costs.body.ratePerHour, 0.5);
      assert.ok(Math.abs(costs.body.spentThisMonth - 0.5) < 0.01, `one hour at 0.5/h: ${costs.body.spentThisMonth}`);

      const rel = await request(app).delete(`/v1/instances/${id}`).set(as("alice"));
      assert.equal(rel.status, 200);
      assert.equal(rel.body.instance.state, "releasing");
      const releasing = await request(app).get("/v1/instances").set(as("alice"));
      assert.deepEqual(releasing.body.instances.map((i: { state: string }) => i.state), ["releasing"], "still listed while it terminates");
      assert.equal((await request(app).get(`/v1/instances/${id}`).set(as("alice"))).body.instance.state, "releasing");
      await settle(fx.pool);
      const gone = await request(app).get(`/v1/instances/${id}`).set(as("alice"));
      assert.equal(gone.body.instance.state, "terminated");
    });

    it("rejects missing, malformed and bad tokens with 401 and changes nothing", async () => {
      await unchanged(async () => {
        expectError(await request(app).post("/v1/claims").send({}), 401, "UNAUTHORIZED");
        expectError(await request(app).post("/v1/claims").set({ authorization: "Basic abc" }).send({}), 401, "UNAUTHORIZED");
        expectError(await request(app).post("/v1/claims").set({ authorization: "Bearer rsp_not-a-real-token" }).send({}), 401, "UNAUTHORIZED");
        expectError(await request(app).get("/v1/instances").set({ authorization: `Bearer ${"x".repeat(5000)}` }), 401, "UNAUTHORIZED");
      });
    });

    it("rejects bad bodies with stable codes and changes nothing", async () => {
      await unchanged(async () => {
        const malformed = await request(app).post("/v1/claims").set(as("alice")).set("content-type", "application/json").send("{not json");
        expectError(malformed, 400, "INVALID_JSON");
        const big = await request(app).post("/v1/claims").set(as("alice")).send({ purpose: "x".repeat(70 * 1024) });
        expectError(big, 413, "PAYLOAD_TOO_LARGE");
        expectError(await request(app).post("/v1/claims").set(as("alice")).send({ purpose: 42 }), 400, "INVALID_REQUEST");
        expectError(await request(app).post("/v1/claims").set(as("alice")).send({ purpose: "rstudio", extra: true }), 400, "INVALID_REQUEST");
        expectError(await request(app).post("/v1/claims").set(as("alice")).send({ purpose: "nope" }), 400, "UNKNOWN_PURPOSE");
        const text = await request(app).post("/v1/claims").set(as("alice")).set("content-type", "text/plain").send("hello");
        expectError(text, 415, "UNSUPPORTED_MEDIA_TYPE");
        expectError(await request(app).post("/v1/claims").set(as("alice")).send([1, 2]), 400, "INVALID_REQUEST");
        expectError(await request(app).get("/v1/nothing-here").set(as("alice")), 404, "NOT_FOUND");
      });
    });

    it("treats another user's instance exactly like a missing one", async () => {
      const claim = await request(app).post("/v1/claims").set(as("alice")).send({});
      const id = claim.body.instance.instanceId;
      await unchanged(async () => {
        for (const res of [
          await request(app).get(`/v1/instances/${id}`).set(as("bob")),
          await request(app).delete(`/v1/instances/${id}`).set(as("bob")),
          await request(app).post(`/v1/instances/${id}/heartbeat`).set(as("bob")),
          await request(app).post(`/v1/instances/${id}/connection`).set(as("bob")).send({}),
          await request(app).get(`/v1/instances/rsp-0000000000000000`).set(as("bob")),
          await request(app).get(`/v1/instances/..%2F..%2Fetc`).set(as("bob")),
        ]) {
          expectError(res, 404, "INSTANCE_NOT_FOUND");
        }
        const bobs = await request(app).get("/v1/instances").set(as("bob"));
        assert.deepEqual(bobs.body.instances, []);
      });
    });

    it("answers heartbeats on the fast path exactly as the Express route does", async () => {
      const claim = await request(app).post("/v1/claims").set(as("alice")).send({});
      const id = claim.body.instance.instanceId as string;
      await settle(fx.pool);
      // Proves which path served what: this server answers 599 for whatever the fast path leaves.
      const fast = heartbeatFastPath({ pool: fx.pool, log: silentLogger(), tokens: new TokenCache() });
      const fastOnly: RequestListener = (req, res) => {
        if (!fast(req, res)) res.writeHead(599).end();
      };
      const cases: Array<[string, Record<string, string>]> = [
        [id, as("alice")],
        [id, as("bob")],
        [id, {}],
        [id, { authorization: "Bearer rsp_not-a-real-token" }],
        [id, { authorization: "Basic abc" }],
        ["rsp-0000000000000000", as("alice")],
        ["not-an-instance-id", as("alice")],
      ];
      const viaFast = [];
      const viaExpress = [];
      for (const [target, headers] of cases) {
        const url = `/v1/instances/${target}/heartbeat`;
        const f = await request(fastOnly).post(url).set(headers);
        assert.notEqual(f.status, 599, `the fast path serves ${url}`);
        viaFast.push([f.status, f.headers["content-type"], f.body]);
        // A JSON body sends the same request through the Express route instead.
        const e = await request(app).post(url).set(headers).send({});
        viaExpress.push([e.status, e.headers["content-type"], e.body]);
      }
      assert.deepEqual(viaFast, viaExpress);
      assert.deepEqual(viaFast.map((r) => r[0]), [200, 404, 401, 401, 401, 404, 404]);
      assert.equal((await request(fastOnly).post(`/v1/instances/${id}/heartbeat?x=1`).set(as("alice"))).status, 599, "a query string goes to Express");
      assert.equal((await request(fastOnly).post(`/v1/instances/${id}/heartbeat`).set(as("alice")).send({})).status, 599, "a body goes to Express");
      assert.equal((await request(fastOnly).get(`/v1/instances/${id}/heartbeat`).set(as("alice"))).status, 599, "only POST");

      await request(app).delete(`/v1/instances/${id}`).set(as("alice"));
      const gone = await request(fastOnly).post(`/v1/instances/${id}/heartbeat`).set(as("alice"));
      assert.deepEqual([gone.status, gone.body.error.code], [409, "INSTANCE_NOT_RUNNING"]);

      const metrics = (await request(app).get("/metrics")).text;
      assert.match(metrics, /rstudio_pool_http_requests_total\{method="POST",route="\/v1\/instances\/:id\/heartbeat",status="200"\} 2/);
      assert.match(metrics, /rstudio_pool_http_requests_total\{method="POST",route="\/v1\/instances\/:id\/heartbeat",status="404"\} 6/, "both paths count under one route");
    });

    it("answers 503 POOL_EXHAUSTED when the pool is full", async () => {
      await request(app).post("/v1/claims").set(as("alice")).send({});
      await request(app).post("/v1/claims").set(as("admin")).send({});
      const res = await unchanged(() => request(app).post("/v1/claims").set(as("bob")).send({}));
      expectError(res, 503, "POOL_EXHAUSTED");
      assert.match(res.body.error.message, /maximum of 2/);
    });

    describe("the old command protocol", () => {
      const cmd = (key: string | null, body: unknown, header: "bearer" | "x-api-key" = "bearer") => {
        const r = request(app).post("/");
        if (key) r.set(header === "bearer" ? { authorization: `Bearer ${key}` } : { "x-api-key": key });
        return r.send(body as object);
      };

      it("REQUEST_RSTUDIO, GET_STATUS and DELETE keep their shapes", async () => {
        const req = await cmd(APP_KEY, { command: "REQUEST_RSTUDIO", payload: { userId: "olduser" } });
        assert.equal(req.status, 200);
        assert.deepEqual(Object.keys(req.body), ["instanceId"]);
        const id = req.body.instanceId;
        const same = await cmd(APP_KEY, { command: "REQUEST_RSTUDIO", payload: { userId: "olduser" } }, "x-api-key");
        assert.deepEqual(same.body, { instanceId: id });

        await settle(fx.pool);
        const all = await cmd(PROXY_KEY, { command: "GET_STATUS", payload: {} });
        assert.deepEqual(all.body, { instances: [id] });
        const one = await cmd(PROXY_KEY, { command: "GET_STATUS", payload: { instanceId: id } });
        assert.equal(one.body.instance.instanceId, id);
        assert.equal(one.body.instance.userId, "olduser");
        assert.match(one.body.instance.url, /^http:\/\/ip-10-0-0-\w+\.ec2\.internal:8787$/);
        assert.ok("keyName" in one.body.instance);
        assert.equal(one.body.instance.Pool, "test-pool");

        const del = await cmd(PROXY_KEY, { command: "DELETE", payload: { instanceId: id } });
        assert.deepEqual(del.body, { status: "OK" });
        await settle(fx.pool);
        const after = await cmd(APP_KEY, { command: "GET_STATUS", payload: {} });
        assert.deepEqual(after.body, { instances: [] });
      });

      it("accepts fields at the top level as well as in payload", async () => {
        const req = await cmd(APP_KEY, { command: "REQUEST_RSTUDIO", userId: "flat" });
        assert.equal(req.status, 200);
        assert.match(req.body.instanceId, /^rsp-/);
      });

      it("refuses bad keys, wrong roles, unknown commands and missing fields without changing anything", async () => {
        await unchanged(async () => {
          expectError(await cmd(null, { command: "GET_STATUS" }), 401, "UNAUTHORIZED");
          expectError(await cmd("wrong", { command: "GET_STATUS" }), 401, "UNAUTHORIZED");
          expectError(await cmd(tokens.alice!, { command: "GET_STATUS" }), 401, "UNAUTHORIZED");
          expectError(await cmd(PROXY_KEY, { command: "REQUEST_RSTUDIO", payload: { userId: "x" } }), 403, "FORBIDDEN");
          expectError(await cmd(APP_KEY, { command: "DELETE", payload: { instanceId: "rsp-0000000000000000" } }), 403, "FORBIDDEN");
          expectError(await cmd(APP_KEY, { command: "LAUNCH_ROCKET" }), 400, "UNKNOWN_COMMAND");
          expectError(await cmd(APP_KEY, { payload: {} }), 400, "MISSING_FIELD");
          expectError(await cmd(APP_KEY, { command: "REQUEST_RSTUDIO", payload: {} }), 400, "MISSING_FIELD");
          expectError(await cmd(APP_KEY, { command: "REQUEST_RSTUDIO", payload: { userId: "bad user!" } }), 400, "INVALID_REQUEST");
          expectError(await cmd(APP_KEY, { command: "REQUEST_RSTUDIO", payload: "x" }), 400, "INVALID_REQUEST");
          expectError(await cmd(PROXY_KEY, { command: "DELETE", payload: {} }), 400, "MISSING_FIELD");
          expectError(await cmd(PROXY_KEY, { command: "DELETE", payload: { instanceId: "rsp-0000000000000000" } }), 404, "INSTANCE_NOT_FOUND");
          expectError(await cmd(PROXY_KEY, { command: "GET_STATUS", payload: { instanceId: "nope" } }), 404, "INSTANCE_NOT_FOUND");
          const malformed = await request(app).post("/").set({ authorization: `Bearer ${APP_KEY}` }).set("content-type", "application/json").send("{");
          expectError(malformed, 400, "INVALID_JSON");
        });
      });
    });
  });
}
