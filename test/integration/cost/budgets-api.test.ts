/**
 * Budgets and the cost API against the real pool (SQLite, lifecycle loop) with a manual clock
 * and the simulator's provider: claims refused at 100% with the figures, the short idle timeout
 * past budget, the warning in GET /v1/costs, and the admin report over HTTP.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import request from "supertest";
import { createApp } from "../../../backend/api/app";
import { adminCostsRouter } from "../../../backend/api/routes/admin-costs";
import { createCostPolicies } from "../../../backend/cost/policies";
import { LedgerCostService } from "../../../backend/cost/service";
import type { PoolConfig } from "../../../backend/config/schema";
import { PoolError } from "../../../backend/errors";
import { silentLogger } from "../../../backend/log";
import { Pool } from "../../../backend/pool/service";
import { hashToken, insertToken, insertUser, newToken } from "../../../backend/store/users";
import { SimProvider } from "../../../sim/provider";
import { memoryStore, poolConfig, purpose } from "../../support/cost-fixtures";

const START = Date.UTC(2026, 10, 20, 8, 0, 0);
const H = 3_600_000;

async function setup(overrides: Partial<PoolConfig>) {
  const store = await memoryStore();
  const config = poolConfig(overrides);
  const clock = { t: START, now() { return this.t; } };
  const provider = new SimProvider({ clock, bootMs: 60_000, hourlyPrice: 0.1, poolName: config.poolName });
  const policies = createCostPolicies(store.db, config);
  const pool = new Pool({ config, store, provider, clock, policies });
  await pool.prepare();
  const costs = new LedgerCostService(store.db, config, clock);
  /** Claims for `user` and runs the loop until the instance is running. */
  const claimRunning = async (user: string, purposeName?: string) => {
    const out = await pool.claim(user, purposeName);
    await pool.loop.tick();
    await pool.loop.launcher.settle();
    clock.t += 60_000;
    await pool.loop.tick();
    return out;
  };
  return { store, config, clock, pool, policies, costs, claimRunning };
}

test("a user at 100% of their budget is refused with the figures; at 80% warned; running instances keep going", async () => {
  const s = await setup({ budgets: { users: { ann: 1 }, defaultUserMonthly: 50, warnAt: 0.8, exceededIdleTimeoutSeconds: 600 } });
  try {
    const first = await s.claimRunning("ann");
    // 60 s of boot are ann's (launched for her claim); 8.4 h more makes $0.85: warning.
    s.clock.t += 8.4 * H;
    const warned = await s.costs.forUser("ann");
    assert.equal(warned.budgetState, "warning");
    assert.equal(warned.budget, 1);
    assert.equal(warned.ratePerHour, 0.1);
    assert.equal(warned.instances.length, 1);
    assert.ok(Math.abs(warned.spentThisMonth - 0.1 * (8.4 + 1 / 60)) < 1e-6);
    s.clock.t += 2 * H;
    const over = await s.costs.forUser("ann");
    assert.equal(over.budgetState, "exceeded");
    // Her existing instance is still hers (not killed, not refused) ...
    const again = await s.pool.claim("ann");
    assert.equal(again.source, "existing");
    assert.equal(again.instance.id, first.instance.id);
    // ... but its idle timeout shrinks to the configured value.
    const { idleDeadline } = await s.pool.heartbeat("ann", first.instance.id);
    assert.equal(idleDeadline - s.clock.now(), 600_000);
    await s.pool.release("ann", first.instance.id);
    await s.pool.loop.tick();
    await assert.rejects(s.pool.claim("ann"), (e: PoolError) => {
      assert.equal(e.code, "BUDGET_EXCEEDED");
      assert.match(e.message, /^You have spent \$1\.04 of your \$1\.00 monthly budget for 2026-11/);
      return true;
    });
    // Bob (default budget $50) is unaffected, with the normal idle timeout.
    const bob = await s.claimRunning("bob");
    const hb = await s.pool.heartbeat("bob", bob.instance.id);
    assert.equal(hb.idleDeadline - s.clock.now(), 3600_000);
    assert.equal((await s.costs.forUser("bob")).budgetState, "ok");
  } finally {
    await s.pool.stop();
    await s.store.close();
  }
});

test("a purpose past its monthly budget refuses new claims and keeps no warm instances", async () => {
  const s = await setup({ purposes: [purpose({ name: "gpu", monthlyBudget: 0.5, minFree: 2 }), purpose({ name: "cpu" })] });
  try {
    await s.pool.loop.tick(); // warm pool of 2 for gpu
    await s.pool.loop.launcher.settle();
    assert.equal(await s.policies.warmTarget(s.config.purposes[0]!, s.clock.now()), 2);
    s.clock.t += 3 * H; // 2 warm instances x 3 h x $0.1 = $0.6 > $0.5
    await assert.rejects(s.pool.claim("ann", "gpu"), (e: PoolError) => e.code === "BUDGET_EXCEEDED" && /The purpose "gpu" has spent \$0\.60 of its \$0\.50 monthly budget/.test(e.message));
    assert.equal(await s.policies.warmTarget(s.config.purposes[0]!, s.clock.now() + 61_000), 0);
    assert.equal((await s.pool.claim("ann", "cpu")).source, "launched");
  } finally {
    await s.pool.stop();
    await s.store.close();
  }
});

test("GET /v1/admin/costs: admins get JSON or CSV by user/purpose/tag; others are refused; bad input is INVALID_REQUEST", async () => {
  const s = await setup({ purposes: [purpose({ name: "analysis", minFree: 1, costTags: { team: "data" } })] });
  try {
    await s.pool.loop.tick();
    await s.pool.loop.launcher.settle();
    s.clock.t += 120_000;
    await s.pool.loop.tick(); // the warm instance is running
    const claimed = await s.pool.claim("ann");
    assert.equal(claimed.source, "warm");
    s.clock.t += H;
    const adminToken = newToken();
    const userToken = newToken();
    await insertUser(s.store.db, "admin", true, START);
    await insertUser(s.store.db, "ann", false, START);
    await insertToken(s.store.db, "admin", hashToken(adminToken), START);
    await insertToken(s.store.db, "ann", hashToken(userToken), START);
    const app = createApp({ pool: s.pool, costs: s.costs, log: silentLogger(), extraV1: [adminCostsRouter(s.pool)] });
    const auth = (t: string) => ({ Authorization: `Bearer ${t}` });

    const byUser = await request(app).get("/v1/admin/costs?month=2026-11&by=user").set(auth(adminToken)).expect(200);
    const keys = byUser.body.rows.map((r: { key: string }) => r.key).sort();
    assert.deepEqual(keys, ["(pool)", "ann"]);
    const ann = byUser.body.rows.find((r: { key: string }) => r.key === "ann");
    assert.ok(Math.abs(ann.total - 0.1) < 1e-6, `ann ${ann.total}`);
    const csv = await request(app).get("/v1/admin/costs?month=2026-11&by=tag&format=csv").set(auth(adminToken)).expect(200);
    assert.match(csv.headers["content-type"], /text\/csv/);
    assert.match(csv.text, /^tag,instanceHours,instanceCost,warmIdleCost,volumeCost,total\nteam=data,/);

    const forbidden = await request(app).get("/v1/admin/costs").set(auth(userToken)).expect(403);
    assert.equal(forbidden.body.error.code, "FORBIDDEN");
    const bad = await request(app).get("/v1/admin/costs?month=11-2026").set(auth(adminToken)).expect(400);
    assert.equal(bad.body.error.code, "INVALID_REQUEST");
    assert.match(bad.body.error.message, /use YYYY-MM/);
    const mine = await request(app).get("/v1/costs").set(auth(userToken)).expect(200);
    assert.equal(mine.body.budgetState, "ok");
    assert.equal(mine.body.instances[0].instanceId, claimed.instance.id);
  } finally {
    await s.pool.stop();
    await s.store.close();
  }
});
