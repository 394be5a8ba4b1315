/**
 * The adaptive warm pool's calibration through the real pool: a surge is caught within a day,
 * the service level holds from the second week on a team it was never tuned on, the
 * calibration survives a restart (it is read back from the database), and the simulator's
 * figures stay deterministic.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { missesUnlikely } from "../../../backend/cost/calibration";
import { AdaptiveWarmPolicy } from "../../../backend/cost/warm-policy";
import { recordEvent } from "../../../backend/store/events";
import { DEFAULT_SIM, simulate, type SimResult } from "../../../sim/engine";
import { generateTrace } from "../../../sim/generate";
import { memoryStore, purpose } from "../../support/cost-fixtures";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MONDAY = Date.UTC(2026, 10, 2);

function shareOn(r: SimResult, from: string, to = from): { warm: number; claims: number; share: number } {
  const days = r.daily.filter((d) => d.day >= from && d.day <= to);
  const warm = days.reduce((s, d) => s + d.warm, 0);
  const claims = days.reduce((s, d) => s + d.claims, 0);
  return { warm, claims, share: warm / claims };
}

test("a sudden surge is caught within a day: a team twice the size joins on a Wednesday", async () => {
  const rows = generateTrace({
    users: 0,
    tz: "Europe/Berlin",
    weeks: 2,
    seed: 21,
    groups: [
      { users: 15, tz: "Europe/Berlin", idPrefix: "old" },
      { users: 30, tz: "Europe/Berlin", idPrefix: "new", joinsOnDay: 9, forgetfulShare: 0 },
    ],
  });
  const r = await simulate(rows, { ...DEFAULT_SIM, policy: { kind: "adaptive" } });
  const surgeDay = shareOn(r, "2026-11-11");
  const dayAfter = shareOn(r, "2026-11-12");
  assert.ok(surgeDay.claims > 2.5 * shareOn(r, "2026-11-10").claims, `the surge: ${JSON.stringify(surgeDay)}`);
  assert.ok(dayAfter.share >= 0.95, `the day after the surge: ${JSON.stringify(dayAfter)} (surge day ${JSON.stringify(surgeDay)})`);
  // The two days after: their misses are within what the target allows by chance (the
  // calibration's own test of evidence). On 124 claims one claim is 0.8 points: 117 warm
  // (94.4%, misses mostly single late sessions at hours nobody came before) is at the target.
  const after = shareOn(r, "2026-11-12", "2026-11-13");
  assert.ok(!missesUnlikely(after.claims - after.warm, after.claims, 0.05, 0.05), `Thursday and Friday: ${JSON.stringify(after)}`);
  assert.ok(after.share >= 0.93, `Thursday and Friday: ${JSON.stringify(after)}`);
});

test("the service level holds from the second week on, on a team it was not tuned on (two offices)", async () => {
  const rows = generateTrace({
    users: 0,
    tz: "Europe/Berlin",
    weeks: 2,
    seed: 22,
    groups: [
      { users: 20, tz: "Europe/Berlin", idPrefix: "ber" },
      { users: 12, tz: "America/New_York", idPrefix: "nyc" },
    ],
  });
  const r = await simulate(rows, { ...DEFAULT_SIM, policy: { kind: "adaptive" } });
  const later = shareOn(r, "2026-11-09", "2026-11-15");
  assert.ok(later.share >= 0.95, `week 2: ${JSON.stringify(later)}; both weeks: ${r.warmShare}`);
  assert.ok(r.forecastMeanAbsError !== undefined && r.forecastBias !== undefined, "the policy reports its forecast error");
});

test("the calibration is kept in the database: a restarted policy plans as the stopped one did", async () => {
  const store = await memoryStore();
  const p = purpose({ name: "rstudio", max: 50 });
  // Last Monday 09:00-10:00 (UTC): 10 claims, only 6 served warm.
  for (let i = 0; i < 10; i++) {
    const at = MONDAY + 9 * HOUR + i * 5 * 60_000;
    await recordEvent(store.db, { at, instanceId: `i${i}`, userId: `u${i}`, purpose: "rstudio", kind: "assigned", reason: i < 6 ? "warm" : "launch", actor: "test" });
  }
  const first = new AdaptiveWarmPolicy(store.db, { serviceLevel: 0.95, defaultBootMs: 150_000 });
  await first.warmTarget(p, MONDAY + 10 * HOUR + 60_000);
  const stored = await store.db.selectFrom("warm_calibration").selectAll().execute();
  const boosts = stored.map((r) => [r.purpose, Number(r.hour_of_week), Number(r.boost)]).sort((a, b) => Number(a[1]) - Number(b[1]));
  // The purpose's offset (row -1): 0.05 per miss less 0.05 x 5% per claim; Monday 09:00 boosted one step.
  assert.deepEqual(boosts, [["rstudio", -1, 0.05 * (4 - (1 - 0.95) * 10)], ["rstudio", 9, 1]]);

  const nextMonday = MONDAY + 7 * DAY + 9 * HOUR;
  const before = await first.warmTarget(p, nextMonday);
  const restarted = new AdaptiveWarmPolicy(store.db, { serviceLevel: 0.95, defaultBootMs: 150_000 });
  assert.equal(await restarted.warmTarget(p, nextMonday), before);
  assert.deepEqual(restarted.last.get("rstudio"), first.last.get("rstudio"));
  assert.ok(restarted.last.get("rstudio")!.level > 0.95, "planned above the bare service level");
  // A per-purpose service level replaces the pool's.
  const strict = purpose({ name: "rstudio", max: 50, serviceLevel: 0.99 });
  assert.equal(restarted.report(strict, nextMonday).serviceLevel, 0.99);
  assert.deepEqual(restarted.report(p, nextMonday).warmShare, { claims: 10, warm: 6, share: 0.6 });
  await store.close();
});

test("the simulator stays deterministic with calibration (every figure but wall time)", async () => {
  const rows = generateTrace({ users: 12, weeks: 1, seed: 23, tz: "Asia/Kolkata", mondaySurge: { share: 0.7 } });
  const { wallSeconds: _a, ...one } = await simulate(rows, { ...DEFAULT_SIM, policy: { kind: "adaptive" } });
  const { wallSeconds: _b, ...two } = await simulate(rows, { ...DEFAULT_SIM, policy: { kind: "adaptive" } });
  assert.deepEqual(one, two);
});
