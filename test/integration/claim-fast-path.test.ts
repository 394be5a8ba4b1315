/**
 * `POST /v1/claims` before Express (backend/api/claim-fast-path.ts): a table of cases run once
 * through the fast path alone and once through the Express route alone, each on a pool in the
 * same state, must give the same status and body, case by case. The requests the fast path
 * leaves to Express are listed too.
 */
import assert from "node:assert/strict";
import type { RequestListener } from "node:http";
import { after, before, describe, it } from "node:test";
import request from "supertest";
import { createApp } from "../../backend/api/app";
import { TokenCache } from "../../backend/api/auth";
import { claimFastPath } from "../../backend/api/claim-fast-path";
import { LedgerCostService } from "../../backend/cost/service";
import { PoolError } from "../../backend/errors";
import { silentLogger } from "../../backend/log";
import { hashToken, insertToken, insertUser, newToken, revokeUser } from "../../backend/store/users";
import { aPurpose } from "../support/builders";
import { makePool, settle, type PoolFixture } from "../support/pool";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

interface Case {
  name: string;
  user?: string;
  headers?: Record<string, string>;
  /** Sent as is, with Content-Type: application/json unless `headers` says otherwise. */
  body?: string;
  status: number;
  code?: string;
}

const USERS = ["alice", "bob", "carol", "dan", "revoked"];

const CASES: Case[] = [
  { name: "no token", body: "{}", status: 401, code: "UNAUTHORIZED" },
  { name: "a token nobody has", headers: { authorization: "Bearer rsp_not-a-real-token" }, body: "{}", status: 401, code: "UNAUTHORIZED" },
  { name: "a malformed Authorization header", headers: { authorization: "Basic abc" }, body: "{}", status: 401, code: "UNAUTHORIZED" },
  { name: "a revoked token", user: "revoked", body: "{}", status: 401, code: "UNAUTHORIZED" },
  { name: "malformed JSON", user: "alice", body: '{"purpose":', status: 400, code: "INVALID_JSON" },
  { name: "malformed JSON comes before the token", body: "{oops", status: 400, code: "INVALID_JSON" },
  { name: "JSON that is not an object or array (strict)", user: "alice", body: '"rstudio"', status: 400, code: "INVALID_JSON" },
  { name: "an array", user: "alice", body: "[]", status: 400, code: "INVALID_REQUEST" },
  { name: "an unknown field", user: "alice", body: '{"purpose":"rstudio","size":"xl"}', status: 400, code: "INVALID_REQUEST" },
  { name: "a purpose that is not a string", user: "alice", body: '{"purpose":7}', status: 400, code: "INVALID_REQUEST" },
  { name: "an unknown purpose", user: "alice", body: '{"purpose":"nope"}', status: 400, code: "UNKNOWN_PURPOSE" },
  { name: "an oversize body", user: "alice", body: JSON.stringify({ purpose: "x".repeat(70_000) }), status: 413, code: "PAYLOAD_TOO_LARGE" },
  { name: "an oversize body without a token", body: JSON.stringify({ purpose: "x".repeat(70_000) }), status: 413, code: "PAYLOAD_TOO_LARGE" },
  { name: "over budget", user: "dan", body: "{}", status: 402, code: "BUDGET_EXCEEDED" },
  { name: "success: a warm spare", user: "alice", body: "{}", status: 201 },
  { name: "success: the user's own instance (200)", user: "alice", body: '{"purpose":"rstudio"}', status: 200 },
  { name: "success: over budget still gets their own", user: "alice", body: "{}", status: 200 },
  { name: "success: launched (no body at all)", user: "bob", status: 201 },
  { name: "a byte-order mark before the JSON", user: "bob", body: "\ufeff{}", status: 200 },
  { name: "pool exhausted", user: "carol", body: "{}", status: 503, code: "POOL_EXHAUSTED" },
  { name: "pool exhausted, charset given", user: "carol", headers: { "content-type": "application/json; charset=utf-8" }, body: "{}", status: 503, code: "POOL_EXHAUSTED" },
];

/** Instance ids and times differ between the two runs; everything else must not. */
function normalised(body: unknown): unknown {
  return JSON.parse(
    JSON.stringify(body)
      .replace(/rsp-[0-9a-f]{16}/g, "<id>")
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>"),
  );
}

for (const kind of STORE_KINDS) {
  describe(`the claim fast path on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    const tokens: Record<string, string> = {};

    before(async () => {
      ts = await createTestStore(kind);
      for (const user of USERS) {
        await insertUser(ts.store.db, user, false, Date.now());
        tokens[user] = newToken();
        await insertToken(ts.store.db, user, hashToken(tokens[user]!), Date.now());
      }
      await revokeUser(ts.store.db, "revoked", Date.now());
    });
    after(async () => {
      await ts?.cleanup();
    });

    /** A pool in the table's starting state: one warm spare, room for one launch, dan over budget. */
    async function freshPool(): Promise<PoolFixture> {
      await ts.store.db.deleteFrom("events").execute();
      await ts.store.db.deleteFrom("instances").execute();
      await ts.store.db.deleteFrom("leases").execute();
      const fx = await makePool(ts.store, { config: { purposes: [aPurpose({ minFree: 1, max: 2 })] } });
      await settle(fx.pool);
      fx.pool.ctx.policies = {
        ...fx.pool.ctx.policies,
        async checkClaimAllowed(userId) {
          if (userId === "dan") throw new PoolError("BUDGET_EXCEEDED", "You have spent 10.00 USD of your 10.00 USD monthly budget.", { userId, spent: 10, budget: 10 });
        },
      };
      return fx;
    }

    async function runTable(handler: (fx: PoolFixture) => RequestListener): Promise<Array<[string, number, unknown]>> {
      const fx = await freshPool();
      const listener = handler(fx);
      const out: Array<[string, number, unknown]> = [];
      for (const c of CASES) {
        let r = request(listener).post("/v1/claims");
        const headers: Record<string, string> = { ...(c.user ? { authorization: `Bearer ${tokens[c.user]}` } : {}), ...(c.body !== undefined ? { "content-type": "application/json" } : {}), ...c.headers };
        for (const [k, v] of Object.entries(headers)) r = r.set(k, v);
        const res = c.body !== undefined ? await r.send(c.body) : await r;
        out.push([c.name, res.status, normalised(res.body)]);
      }
      return out;
    }

    const deps = (fx: PoolFixture) => ({ pool: fx.pool, costs: new LedgerCostService(fx.pool.db, fx.pool.config, fx.pool.ctx.clock), log: silentLogger(), version: "test" });

    it("answers every case of the table exactly as the Express route does", async () => {
      // The fast path alone: whatever it leaves to Express is answered 599 and fails the table.
      const viaFast = await runTable((fx) => {
        const fast = claimFastPath({ pool: fx.pool, log: silentLogger(), tokens: new TokenCache() });
        return (req, res) => {
          if (!fast(req, res)) res.writeHead(599).end();
        };
      });
      const viaExpress = await runTable((fx) => createApp({ ...deps(fx), fastPaths: false }));
      for (let k = 0; k < CASES.length; k++) {
        const c = CASES[k]!;
        assert.deepEqual(viaFast[k], viaExpress[k], `case "${c.name}": fast path vs Express`);
        assert.equal(viaFast[k]![1], c.status, `case "${c.name}": ${JSON.stringify(viaFast[k]![2])}`);
        const body = viaFast[k]![2] as { error?: { code: string }; source?: string };
        if (c.code) assert.equal(body.error?.code, c.code, `case "${c.name}"`);
        else assert.ok(body.source, `case "${c.name}" is a claim`);
      }
      const sources = viaFast.map((r) => (r[2] as { source?: string }).source).filter(Boolean);
      assert.deepEqual(sources, ["warm", "existing", "existing", "launched", "existing"]);
    });

    it("counts its requests under the route and the claims' metrics, as Express does", async () => {
      const fx = await freshPool();
      const app = createApp(deps(fx));
      await request(app).post("/v1/claims").set("authorization", `Bearer ${tokens.alice}`).send({});
      await request(app).post("/v1/claims").set("authorization", `Bearer ${tokens.carol}`).set("content-type", "application/json").send("{bad");
      const metrics = (await request(app).get("/metrics")).text;
      assert.match(metrics, /rstudio_pool_http_requests_total\{method="POST",route="\/v1\/claims",status="201"\} 1/);
      assert.match(metrics, /rstudio_pool_http_requests_total\{method="POST",route="\/v1\/claims",status="400"\} 1/);
      assert.match(metrics, /rstudio_pool_claims_total\{purpose="rstudio",source="warm"\} 1/);
    });

    it("leaves unusual requests to Express", async () => {
      const fx = await freshPool();
      const fast = claimFastPath({ pool: fx.pool, log: silentLogger(), tokens: new TokenCache() });
      const fastOnly: RequestListener = (req, res) => {
        if (!fast(req, res)) res.writeHead(599).end();
      };
      const auth = `Bearer ${tokens.alice}`;
      assert.equal((await request(fastOnly).post("/v1/claims?x=1").set("authorization", auth).send({})).status, 599, "a query string");
      assert.equal((await request(fastOnly).get("/v1/claims").set("authorization", auth)).status, 599, "only POST");
      assert.equal((await request(fastOnly).post("/v1/claims").set("authorization", auth).set("content-type", "text/plain").send("{}")).status, 599, "another media type");
      assert.equal((await request(fastOnly).post("/v1/claims").set("authorization", auth).set("content-type", "application/json; charset=latin1").send("{}")).status, 599, "another charset");
      assert.equal((await request(fastOnly).post("/v1/claims").set("authorization", auth).set("content-type", "application/json").set("content-encoding", "gzip").send("{}")).status, 599, "a compressed body");
      // And Express still answers those as before.
      const app = createApp(deps(fx));
      const typed = await request(app).post("/v1/claims").set("authorization", auth).set("content-type", "text/plain").send("{}");
      assert.deepEqual([typed.status, typed.body.error.code], [415, "UNSUPPORTED_MEDIA_TYPE"]);
    });
  });
}
