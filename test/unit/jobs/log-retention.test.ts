/** The local job log retention rule (backend/jobs/log-retention.ts): which directories the sweep removes and when a log counts as expired. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jobsPurposeSchema } from "../../../backend/config/jobs";
import { DAY_MS, fallbackRetentionDays, logExpired, retentionMs, shouldSweep } from "../../../backend/jobs/log-retention";

const NOW = Date.UTC(2026, 11, 2, 4, 0, 0);
const ID = "job-0123456789abcdef";
const dir = (over: Partial<{ name: string; newestMtimeMs: number }> = {}) => ({ name: ID, bytes: 10, newestMtimeMs: NOW, ...over });
const ended = (daysAgo: number, state: "succeeded" | "failed" | "cancelled" = "succeeded") => ({ state, endedAt: NOW - daysAgo * DAY_MS, finalizedAt: NOW - daysAgo * DAY_MS });

test("logRetentionDays: default 30, 0 allowed (forever), negative, fractional and absurd values refused", () => {
  assert.equal(jobsPurposeSchema.parse({}).logRetentionDays, 30);
  assert.equal(jobsPurposeSchema.parse({ logRetentionDays: 0 }).logRetentionDays, 0);
  for (const bad of [-1, 1.5, 3651, "7"]) assert.equal(jobsPurposeSchema.safeParse({ logRetentionDays: bad }).success, false, String(bad));
  assert.equal(retentionMs(0), null);
  assert.equal(retentionMs(2), 2 * DAY_MS);
});

test("a job's log expires only once it ended, was finalized, and more than the retention ago", () => {
  assert.equal(logExpired(ended(31), 30, NOW), true);
  assert.equal(logExpired(ended(31, "failed"), 30, NOW), true);
  assert.equal(logExpired(ended(31, "cancelled"), 30, NOW), true);
  assert.equal(logExpired(ended(29), 30, NOW), false, "ended recently");
  assert.equal(logExpired({ state: "succeeded", endedAt: NOW - 30 * DAY_MS, finalizedAt: NOW }, 30, NOW), false, "exactly at the retention: kept");
  assert.equal(logExpired(ended(400), 0, NOW), false, "0 keeps forever");
  assert.equal(logExpired({ ...ended(31), finalizedAt: null }, 30, NOW), false, "its process may still need stopping");
  for (const state of ["queued", "starting", "running"] as const) {
    assert.equal(logExpired({ state, endedAt: NOW - 90 * DAY_MS, finalizedAt: NOW - 90 * DAY_MS }, 30, NOW), false, state);
  }
});

test("the sweep: by the job's row when there is one, by the newest mtime when there is none, never a name that is not a job id", () => {
  assert.equal(shouldSweep(dir(), ended(31), 30, NOW), true);
  assert.equal(shouldSweep(dir({ newestMtimeMs: NOW - 90 * DAY_MS }), ended(2), 30, NOW), false, "the row decides, not the files' age");
  assert.equal(shouldSweep(dir(), { state: "running", endedAt: null, finalizedAt: null }, 30, NOW), false);
  assert.equal(shouldSweep(dir({ newestMtimeMs: NOW - 31 * DAY_MS }), null, 30, NOW), true, "no row, old files");
  assert.equal(shouldSweep(dir({ newestMtimeMs: NOW - DAY_MS }), null, 30, NOW), false, "no row, a file written recently");
  assert.equal(shouldSweep(dir({ newestMtimeMs: NOW - 900 * DAY_MS }), null, 0, NOW), false, "forever");
  for (const name of ["lost+found", "job-XYZ", ".sweep", "job-0123456789abcdef.tmp"]) {
    assert.equal(shouldSweep(dir({ name, newestMtimeMs: 0 }), null, 30, NOW), false, name);
  }
});

test("the retention of an unknown purpose is the longest configured, forever if any purpose keeps forever", () => {
  const p = (days: number) => ({ jobs: { logRetentionDays: days } });
  assert.equal(fallbackRetentionDays([p(7), p(90), p(30)], 30), 90);
  assert.equal(fallbackRetentionDays([p(7), p(0)], 30), 0);
  assert.equal(fallbackRetentionDays([], 30), 30);
});
