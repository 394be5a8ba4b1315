/** The adaptive warm pool's forecaster: Poisson quantiles, seasonal rates, scale to zero, lead and hold. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BUCKET_MS, ClaimHistory, anyClaimLikely, bucketRate, forecastWarmTarget, poissonQuantile, DEFAULT_FORECAST, type ForecastParams } from "../../../backend/cost/forecast";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const MONDAY = Date.UTC(2026, 10, 2); // 2026-11-02 is a Monday
const params: ForecastParams = { ...DEFAULT_FORECAST, serviceLevel: 0.95, bootMs: 150_000 };

/** `perQuarter` claims spread evenly over 08:00-08:15 UTC of each listed day. */
function history(days: number[], perQuarter: number, since = MONDAY - 7 * DAY): ClaimHistory {
  const h = new ClaimHistory(since);
  for (const d of days) for (let i = 0; i < perQuarter; i++) h.add(MONDAY + d * DAY + 8 * HOUR + (i * 15 * MIN) / perQuarter);
  return h;
}

test("poissonQuantile: smallest k with P(N <= k) >= level", () => {
  assert.equal(poissonQuantile(0, 0.95), 0);
  // P(N<=4 | 2.5) = 0.8912, P(N<=5 | 2.5) = 0.9580
  assert.equal(poissonQuantile(2.5, 0.95), 5);
  assert.equal(poissonQuantile(2.5, 0.85), 4);
  // P(N<=0 | 0.05) = 0.951
  assert.equal(poissonQuantile(0.05, 0.95), 0);
  assert.equal(poissonQuantile(0.06, 0.95), 1);
});

test("nobody comes: the target is zero (scale to zero)", () => {
  const h = new ClaimHistory(MONDAY - 14 * DAY);
  assert.equal(forecastWarmTarget(h, MONDAY + 8 * HOUR, params).target, 0);
});

test("a quarter hour where a claim is no likelier than the allowed miss rate keeps no spare", () => {
  // 0.2 claims per hour: P(a claim in 15 min) = 4.9%, within 5%; 0.21: 5.1%.
  assert.equal(anyClaimLikely(0.2, 0.95), false);
  assert.equal(anyClaimLikely(0.21, 0.95), true);
  // Planned with a lower level (a team served above its target), quiet hours go without.
  assert.equal(anyClaimLikely(0.8, 0.95), true);
  assert.equal(anyClaimLikely(0.8, 0.8), false);
  // One claim in that quarter hour four weeks ago (weight 1/8 of 1 7/8): 0.27 per hour, one spare.
  const h = history([-28], 1, MONDAY - 28 * DAY);
  assert.equal(forecastWarmTarget(h, MONDAY + 8 * HOUR, params).target, 1);
  const low = { rateFactor: 1, levelAt: () => 0.9, floorAt: () => 0 };
  assert.equal(forecastWarmTarget(h, MONDAY + 8 * HOUR, params, low).target, 0);
});

test("the same quarter hour last week drives the rate; other hours stay at zero", () => {
  const h = history([-7], 10); // last Monday 08:00-08:15: 10 claims -> 40 per hour
  assert.equal(bucketRate(h, Math.floor((MONDAY + 8 * HOUR) / BUCKET_MS), MONDAY + 7 * HOUR, params), 40);
  // Monday 08:00 this week: 40/h * 150 s = 1.67 expected claims. A claim is warm when fewer than
  // k came in the boot time before it: P(N<=3)=0.91, P(N<=4)=0.97, so k = 5.
  const at8 = forecastWarmTarget(h, MONDAY + 8 * HOUR, params);
  assert.equal(at8.rate, 40);
  assert.equal(at8.target, 5);
  assert.equal(forecastWarmTarget(h, MONDAY + 3 * HOUR, params).target, 0);
});

test("older weeks weigh less (exponential decay)", () => {
  const h = new ClaimHistory(MONDAY - 21 * DAY);
  for (let i = 0; i < 8; i++) h.add(MONDAY - 7 * DAY + 8 * HOUR + i); // last week: 8
  for (let i = 0; i < 2; i++) h.add(MONDAY - 14 * DAY + 8 * HOUR + i); // two weeks ago: 2
  // three weeks ago observed with 0 claims. Weights 1, 0.5, 0.25: (8 + 1 + 0) / 1.75 per quarter.
  const r = bucketRate(h, Math.floor((MONDAY + 8 * HOUR) / BUCKET_MS), MONDAY, params);
  assert.ok(Math.abs(r - ((8 + 1) / 1.75) * 4) < 1e-9, `rate ${r}`);
});

test("one odd week (a holiday) does not drag the next week down: the upper median of the weeks counts", () => {
  const h = new ClaimHistory(MONDAY - 28 * DAY);
  for (const w of [2, 3, 4]) for (let i = 0; i < 8; i++) h.add(MONDAY - w * 7 * DAY + 8 * HOUR + i); // 8 claims in each of three weeks
  // last week: a holiday, nobody came. Weighted mean: (0 + 4 + 2 + 1) / 1.875 per quarter; median: 8.
  assert.equal(bucketRate(h, Math.floor((MONDAY + 8 * HOUR) / BUCKET_MS), MONDAY, params), 32);
});

test("hours before the history started are unknown, not zero", () => {
  const since = MONDAY - 7 * DAY;
  const h = history([-7], 4, since);
  // Two and three weeks ago are before `since`: only last week counts (no dilution by fake zeros).
  assert.equal(bucketRate(h, Math.floor((MONDAY + 8 * HOUR) / BUCKET_MS), MONDAY, params), 16);
});

test("before a week of history, past weekdays' same quarter hour is used", () => {
  const h = history([1], 5, MONDAY); // Tuesday 5 claims, Monday observed with none; history starts this Monday
  const wed = MONDAY + 2 * DAY + 8 * HOUR;
  // Tuesday weight 1, Monday 0.5: (5 + 0) / 1.5 per quarter hour, x4 per hour.
  assert.ok(Math.abs(forecastWarmTarget(h, wed, params).rate - (5 / 1.5) * 4) < 1e-9);
  // Saturday is a weekend day: weekday history does not count for it.
  assert.equal(forecastWarmTarget(h, MONDAY + 5 * DAY + 8 * HOUR, params).rate, 0);
});

test("the pool grows ahead of demand (lead of two boot times) and holds after it", () => {
  const h = history([-7], 10);
  const before = forecastWarmTarget(h, MONDAY + 8 * HOUR - 4 * MIN, params); // 08:00 is within 2 x 150 s
  assert.equal(before.target, 5);
  assert.equal(forecastWarmTarget(h, MONDAY + 8 * HOUR - 10 * MIN, params).target, 0);
  // 08:15 + 29 min: still held; 08:15 + 31 min: released.
  assert.equal(forecastWarmTarget(h, MONDAY + 8 * HOUR + 15 * MIN + 29 * MIN, params).target, 5);
  assert.equal(forecastWarmTarget(h, MONDAY + 8 * HOUR + 15 * MIN + 31 * MIN, params).target, 0);
});

test("the recent rate is a floor: an unforecast burst raises the target", () => {
  const h = new ClaimHistory(MONDAY - 14 * DAY);
  const now = MONDAY + 14 * HOUR;
  for (let i = 0; i < 30; i++) h.add(now - 20 * MIN + i * 10_000); // 30 claims in the last 30 min
  const f = forecastWarmTarget(h, now, params);
  assert.equal(f.rate, 60);
  assert.equal(f.target, poissonQuantile(2.5, 0.95) + 1);
});

test("deterministic: the same history and time give the same target", () => {
  const a = forecastWarmTarget(history([-7, -6, -5], 7), MONDAY + 8 * HOUR, params);
  const b = forecastWarmTarget(history([-7, -6, -5], 7), MONDAY + 8 * HOUR, params);
  assert.deepEqual(a, b);
});
