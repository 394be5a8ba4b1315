import assert from "node:assert/strict";
import { test } from "node:test";
import { instanceRow, instanceRows } from "../../../extension/core/instance-tree-model";
import { formatDuration, formatMoney } from "../../../extension/core/format";
import { anInstance } from "./fakes";

const NOW = Date.parse("2026-11-23T10:00:00Z");

test("a running instance shows purpose, type, state, uptime, idle time left and price", () => {
  const row = instanceRow(anInstance(), NOW);
  assert.equal(row.label, "rstudio");
  assert.equal(row.contextValue, "instance.running");
  assert.equal(row.icon, "running");
  assert.equal(row.description, "running · t3.large · up 55m · idle reap in 45m · $0.0832/h");
  assert.deepEqual(
    row.details.map((d) => [d.label, d.value]),
    [
      ["Purpose", "rstudio"],
      ["Type", "t3.large · on-demand"],
      ["State", "running"],
      ["Uptime", "55m"],
      ["Idle reap in", "45m"],
      ["Price", "$0.0832/h"],
      ["Instance ID", "i-0123456789abcdef0"],
    ],
  );
  assert.match(row.tooltip, /Idle reap in: 45m/);
});

test("launching and booting rows are pending; ended rows have no uptime or deadline", () => {
  assert.equal(instanceRow(anInstance({ state: "booting", runningAt: null }), NOW).contextValue, "instance.pending");
  const launching = instanceRow(anInstance({ state: "launching", runningAt: null, instanceType: null, hourlyPrice: null }), NOW);
  assert.equal(launching.icon, "pending");
  assert.equal(launching.description, "launching · idle reap in 45m");
  assert.ok(launching.details.some((d) => d.label === "Price" && d.value === "unknown"));
  const interrupted = instanceRow(anInstance({ state: "interrupted", stateReason: "spot-interruption", endedAt: "2026-11-23T09:50:00Z" }), NOW);
  assert.equal(interrupted.contextValue, "instance.ended");
  assert.equal(interrupted.icon, "problem");
  assert.equal(interrupted.description, "interrupted (spot-interruption) · t3.large · $0.0832/h");
  assert.ok(!interrupted.details.some((d) => d.label === "Uptime" || d.label === "Idle reap in"));
  assert.equal(instanceRow(anInstance({ state: "terminated" }), NOW).icon, "ended");
});

test("rows are ordered running, then starting, then ended, newest first", () => {
  const rows = instanceRows(
    [
      anInstance({ instanceId: "i-ended", state: "terminated" }),
      anInstance({ instanceId: "i-old", launchedAt: "2026-11-23T08:00:00Z" }),
      anInstance({ instanceId: "i-boot", state: "booting" }),
      anInstance({ instanceId: "i-new", launchedAt: "2026-11-23T09:30:00Z" }),
    ],
    NOW,
  );
  assert.deepEqual(rows.map((r) => r.instanceId), ["i-new", "i-old", "i-boot", "i-ended"]);
});

test("durations and money format for people", () => {
  assert.equal(formatDuration(35_000), "35s");
  assert.equal(formatDuration(42 * 60_000), "42m");
  assert.equal(formatDuration(65 * 60_000), "1h 05m");
  assert.equal(formatDuration(50 * 3600_000), "2d 2h");
  assert.equal(formatDuration(-5000), "0s");
  assert.equal(formatMoney(12.3, "USD"), "$12.30");
  assert.equal(formatMoney(0.42, "USD"), "$0.42");
  assert.equal(formatMoney(0.0104, "USD"), "$0.0104");
  assert.equal(formatMoney(0, "EUR"), "€0.00");
});
