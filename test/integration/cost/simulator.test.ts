/** The simulator end to end on a small generated trace: the real pool, the sim provider, the ledger's figures. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_SIM, simulate } from "../../../sim/engine";
import { generateTrace, localToUtc } from "../../../sim/generate";
import { formatTrace, parseTrace } from "../../../sim/trace";

const rows = generateTrace({ users: 12, weeks: 1, seed: 5, tz: "Europe/Berlin" });

test("the generator is deterministic, keeps office hours in the time zone, and round-trips through CSV", () => {
  assert.deepEqual(generateTrace({ users: 12, weeks: 1, seed: 5, tz: "Europe/Berlin" }), rows);
  assert.notDeepEqual(generateTrace({ users: 12, weeks: 1, seed: 6, tz: "Europe/Berlin" }), rows);
  assert.deepEqual(parseTrace(formatTrace(rows)), rows);
  // Berlin is UTC+1 in November: 09:00 local is 08:00 UTC.
  assert.equal(localToUtc(2026, 10, 2, 9 * 3_600_000, "Europe/Berlin"), Date.UTC(2026, 10, 2, 8));
  const weekday = rows.filter((r) => ![0, 6].includes(new Date(r.at).getUTCDay()));
  assert.ok(weekday.length / rows.length > 0.9);
  assert.ok(rows.some((r) => r.forgetsToClose));
  // Four-column traces (no forgetsToClose) are accepted.
  assert.equal(parseTrace("timestamp,userId,purpose,sessionSeconds\n2026-11-02T08:00:00Z,u1,default,600\n")[0]!.forgetsToClose, false);
  assert.throws(() => parseTrace("time,user\n"), /lacks "timestamp"/);
});

test("static:0 serves nobody warm; a big static pool serves everyone warm; adaptive sits between and costs less idle", async () => {
  const none = await simulate(rows, { ...DEFAULT_SIM, policy: { kind: "static", warm: 0 } });
  const many = await simulate(rows, { ...DEFAULT_SIM, policy: { kind: "static", warm: 12 } });
  const adaptive = await simulate(rows, { ...DEFAULT_SIM, policy: { kind: "adaptive" } });
  assert.equal(none.claims, rows.length);
  assert.equal(none.warmPoolIdleInstanceHours, 0);
  assert.equal(none.waitP95Seconds, DEFAULT_SIM.bootSeconds);
  // Only claims of users who still held an instance are served at once without a pool.
  assert.ok(none.warmShare < 0.2, `static:0 warmShare ${none.warmShare}`);
  assert.equal(many.warmShare, 1);
  assert.ok(adaptive.warmShare > none.warmShare);
  assert.ok(adaptive.warmPoolIdleCost < many.warmPoolIdleCost / 2, `${adaptive.warmPoolIdleCost} vs ${many.warmPoolIdleCost}`);
  for (const r of [none, many, adaptive]) {
    assert.equal(r.refused, 0);
    // Every instance-hour is used, waiting in the pool, or idling before the reaper; all priced alike.
    const hours = r.usedInstanceHours + r.warmPoolIdleInstanceHours + r.idleBeforeReapInstanceHours;
    assert.ok(Math.abs(r.totalCost - hours * DEFAULT_SIM.hourlyPrice) < 0.05, `cost ${r.totalCost} vs ${hours} h`);
  }
});

test("the reconciler's interval changes no figure: the simulated provider never drifts from the pool", async () => {
  const { wallSeconds: _a, ...server } = await simulate(rows, { ...DEFAULT_SIM, policy: { kind: "adaptive" }, reconcileEverySeconds: 30 });
  const { wallSeconds: _b, ...sim } = await simulate(rows, { ...DEFAULT_SIM, policy: { kind: "adaptive" } });
  assert.ok(DEFAULT_SIM.reconcileEverySeconds > 30);
  assert.deepEqual(sim, server);
});
