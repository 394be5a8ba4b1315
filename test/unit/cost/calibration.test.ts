/** The warm pool's calibration: hour-of-week boosts from measured warm shares, the forecast error, the plan. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { HOURS_PER_WEEK, OFFSET_ROW, WarmCalibration, hourOfWeek, missesUnlikely } from "../../../backend/cost/calibration";
import { BUCKET_MS, ClaimHistory, DEFAULT_FORECAST, fillRateTarget, forecastWarmTarget } from "../../../backend/cost/forecast";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const MONDAY = Date.UTC(2026, 10, 2); // a Monday
const hour = (t: number) => Math.floor(t / HOUR);

test("hourOfWeek counts from Monday 00:00 UTC", () => {
  assert.equal(hourOfWeek(hour(MONDAY)), 0);
  assert.equal(hourOfWeek(hour(MONDAY + 9 * HOUR)), 9);
  assert.equal(hourOfWeek(hour(MONDAY + 6 * DAY + 23 * HOUR)), HOURS_PER_WEEK - 1);
  assert.equal(hourOfWeek(hour(MONDAY + WEEK)), 0);
});

test("fill rate: one spare as soon as any claim is expected, more as the expectation grows", () => {
  assert.equal(fillRateTarget(0, 0.95), 0);
  assert.equal(fillRateTarget(0.01, 0.95), 1);
  // 1.67 claims per boot time: P(N <= 3) = 0.911, P(N <= 4) = 0.972, so 5 spares serve 97% of claims.
  assert.equal(fillRateTarget(1.67, 0.95), 5);
});

test("an hour that falls short of the level is boosted once; an hour that is all warm eases back; the offset follows the misses", () => {
  const c = new WarmCalibration();
  const at = MONDAY + 9 * HOUR;
  for (let i = 0; i < 8; i++) c.observe("r", at + i * MIN, i < 4); // 4 of 8 warm: 50%
  assert.deepEqual(c.close("r", at + 30 * MIN, 0.95), [], "the hour is not over yet");
  const rows = c.close("r", at + HOUR, 0.95);
  // The purpose's offset: 0.05 per miss, less 0.05 x 5% per claim: 0.05 x (4 - 0.4).
  const offset = 0.05 * (4 - (1 - 0.95) * 8);
  assert.deepEqual(rows, [
    { purpose: "r", hourOfWeek: OFFSET_ROW, boost: offset, appliedHour: hour(at) },
    { purpose: "r", hourOfWeek: 9, boost: 1, appliedHour: hour(at) },
  ]);
  assert.equal(c.offset("r"), offset);
  assert.deepEqual(c.close("r", at + HOUR + 5 * MIN, 0.95), [], "each hour is applied once");
  // Planned with half the miss rate there, and at least a quarter of it at 09:00 on other weekdays.
  const plan = c.plan("r", 0.95);
  const bucket = (t: number) => Math.floor(t / BUCKET_MS);
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(plan.levelAt(bucket(at)), 1 - 0.05 / 2 ** (1 + offset));
  close(plan.levelAt(bucket(at + DAY)), 1 - 0.05 / 2 ** (0.5 + offset));
  close(plan.levelAt(bucket(at + 5 * DAY)), 1 - 0.05 / 2 ** offset); // weekends are another kind of day
  assert.equal(plan.floorAt(bucket(at)), 1, "one spare at least where claims missed");
  assert.equal(plan.floorAt(bucket(at + DAY)), 0);
  // Next week 09:00 is all warm, but the window (4 misses of 16) is still short: the boost stays.
  for (let i = 0; i < 8; i++) c.observe("r", at + WEEK + i * MIN, true);
  const cell9 = (r: Array<{ hourOfWeek: number; boost: number }>) => r.find((x) => x.hourOfWeek === 9)!.boost;
  assert.equal(cell9(c.close("r", at + WEEK + HOUR, 0.95)), 1);
  for (let w = 2; w < 6; w++) for (let i = 0; i < 8; i++) c.observe("r", at + w * WEEK + i * MIN, true);
  let boost = 1;
  for (let w = 2; w < 6; w++) boost = cell9(c.close("r", at + w * WEEK + HOUR, 0.95));
  assert.ok(boost < 1, `boost eased back to ${boost}`);
  // All warm since: the offset came down below zero (plan lower than the target where it holds easily).
  assert.ok(c.offset("r") < offset, `offset ${c.offset("r")}`);
});

test("the binomial test: misses are evidence only when they are unlikely at the target miss rate", () => {
  // P(X >= 1 | 2 claims, 5%) = 9.75%: one miss in two claims is as likely as not noise.
  assert.equal(missesUnlikely(1, 2, 0.05, 0.05), false);
  assert.equal(missesUnlikely(2, 2, 0.05, 0.05), true); // 0.25%
  // 2 of 8: P = 5.7%; 3 of 8: P = 0.58%.
  assert.equal(missesUnlikely(2, 8, 0.05, 0.05), false);
  assert.equal(missesUnlikely(3, 8, 0.05, 0.05), true);
  assert.equal(missesUnlikely(0, 8, 0.05, 0.05), false);
  // A big team: 5.5% of 20,000 claims is far beyond chance at 5% (and (1 - p)^n underflows).
  assert.equal(missesUnlikely(1100, 20_000, 0.05, 0.05), true);
  assert.equal(missesUnlikely(1000, 20_000, 0.05, 0.05), false);
});

test("one miss in a quiet hour is noise: no boost, and the offset alone follows it", () => {
  const c = new WarmCalibration();
  const at = MONDAY + 21 * HOUR;
  c.observe("r", at, false);
  c.observe("r", at + MIN, true);
  const rows = c.close("r", at + HOUR, 0.95);
  assert.deepEqual(rows.find((r) => r.hourOfWeek === 21), { purpose: "r", hourOfWeek: 21, boost: 0, appliedHour: hour(at) });
  assert.ok(c.offset("r") > 0);
});

test("the boosts are what a restart needs: loading the stored rows gives the same plan", () => {
  const a = new WarmCalibration();
  const at = MONDAY + 7 * HOUR;
  for (let w = 0; w < 3; w++) {
    a.observe("r", at + w * WEEK, false);
    a.observe("r", at + w * WEEK + MIN, false);
  }
  const rows = [0, 1, 2].flatMap((w) => a.close("r", at + w * WEEK + HOUR, 0.95));
  assert.equal(rows.at(-1)!.boost, 3);
  const b = new WarmCalibration();
  b.load(rows);
  const bucket = Math.floor((at + 3 * WEEK) / BUCKET_MS);
  assert.equal(b.plan("r", 0.95).levelAt(bucket), a.plan("r", 0.95).levelAt(bucket));
  // The stored hour is not applied twice after the restart.
  b.observe("r", at + 2 * WEEK, false);
  assert.deepEqual(b.close("r", at + 2 * WEEK + HOUR, 0.95), []);
});

test("the forecast error: a surge above the forecast scales the rate (1 to 3), quiet days do not scale it down", () => {
  const params = { ...DEFAULT_FORECAST, serviceLevel: 0.95, bootMs: 150_000 };
  const h = new ClaimHistory(MONDAY - 7 * DAY);
  const c = new WarmCalibration();
  // Every weekday last week: 4 claims at 09:00-09:15. This Monday: 16.
  for (let d = -7; d < 0; d++) if (![-2, -1].includes(d)) for (let i = 0; i < 4; i++) h.add(MONDAY + d * DAY + 9 * HOUR + i * MIN);
  for (let i = 0; i < 16; i++) h.add(MONDAY + 9 * HOUR + i * 50_000);
  c.trackError("r", h, MONDAY + 12 * HOUR, params);
  const e = c.forecastError("r");
  assert.equal(e.claims, 16);
  assert.ok(Math.abs(e.expected - 4) < 1e-9, `expected ${e.expected}`);
  assert.equal(e.bias, 20 / 8);
  assert.equal(c.plan("r", 0.95).rateFactor, 2.5);
  const planned = forecastWarmTarget(h, MONDAY + DAY + 9 * HOUR, params, c.plan("r", 0.95));
  const bare = forecastWarmTarget(h, MONDAY + DAY + 9 * HOUR, params);
  assert.ok(planned.target > bare.target, `${planned.target} > ${bare.target}`);
  // A day later the surge has left the one-day window: no scaling.
  c.trackError("r", h, MONDAY + 2 * DAY, params);
  assert.equal(c.plan("r", 0.95).rateFactor, 1);
});
