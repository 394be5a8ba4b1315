/** The ledger's arithmetic on hand-made cases: minimum, rounding, pool/owner split, spot changes, volumes. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { launchPrice, SpotPriceHistory } from "../../../backend/cost/prices";
import { billedSpan, instanceUsage, POOL_ACCOUNT, volumeUsage, type InstanceHistory } from "../../../backend/cost/usage";
import { parseMonth } from "../../../backend/cost/money";
import { groupLines, parseReportRequest, reportCsv } from "../../../backend/cost/report";
import { poolConfig, purpose } from "../../support/cost-fixtures";

const T0 = Date.UTC(2026, 10, 10, 9, 0, 0);
const H = 3_600_000;
const ALL = { from: 0, to: Number.MAX_SAFE_INTEGER };

function inst(over: Partial<InstanceHistory> = {}): InstanceHistory {
  return { id: "rsp-1", purpose: "p", ownerId: null, assignedAt: null, billStart: T0, endedAt: T0 + H, market: "on-demand", instanceType: "t3.large", availabilityZone: "a", hourlyPrice: 0.36, ...over };
}

test("a run shorter than a minute is billed 60 seconds; partial seconds round up", () => {
  assert.deepEqual(billedSpan(inst({ endedAt: T0 + 5_000 }), T0 + 10 * H), { from: T0, to: T0 + 60_000 });
  assert.deepEqual(billedSpan(inst({ endedAt: T0 + 90_001 }), T0 + 10 * H), { from: T0, to: T0 + 91_000 });
  const [line] = instanceUsage(inst({ endedAt: T0 + 5_000 }), ALL, T0 + H, launchPrice);
  assert.ok(Math.abs(line!.cost - 0.36 / 60) < 1e-12);
});

test("never reaching the provider costs nothing; a live instance is billed until now", () => {
  assert.deepEqual(instanceUsage(inst({ billStart: null }), ALL, T0 + H, launchPrice), []);
  const [line] = instanceUsage(inst({ endedAt: null }), ALL, T0 + 2 * H, launchPrice);
  assert.ok(Math.abs(line!.cost - 0.72) < 1e-12);
});

test("free time is the pool's, assigned time the owner's", () => {
  const lines = instanceUsage(inst({ ownerId: "ann", assignedAt: T0 + 15 * 60_000 }), ALL, T0 + 2 * H, launchPrice);
  assert.deepEqual(lines.map((l) => [l.account, Math.round(l.cost * 1e6) / 1e6]), [[POOL_ACCOUNT, 0.09], ["ann", 0.27]]);
  // Assigned before the launch was accepted (launched for a claim): all of it is the owner's.
  const claimed = instanceUsage(inst({ ownerId: "bob", assignedAt: T0 - 5_000 }), ALL, T0 + 2 * H, launchPrice);
  assert.deepEqual(claimed.map((l) => l.account), ["bob"]);
});

test("spot instances follow the price history of their type and zone; on-demand ones do not", () => {
  const prices = new SpotPriceHistory([
    { instanceType: "t3.large", availabilityZone: "a", at: T0 - H, hourlyPrice: 0.03 },
    { instanceType: "t3.large", availabilityZone: "a", at: T0 + 30 * 60_000, hourlyPrice: 0.05 },
    { instanceType: "t3.large", availabilityZone: "b", at: T0, hourlyPrice: 0.9 },
  ]);
  const [spot] = instanceUsage(inst({ market: "spot" }), ALL, T0 + 2 * H, prices);
  assert.ok(Math.abs(spot!.cost - (0.03 + 0.05) / 2) < 1e-12);
  const [onDemand] = instanceUsage(inst(), ALL, T0 + 2 * H, prices);
  assert.ok(Math.abs(onDemand!.cost - 0.36) < 1e-12);
  // No history for the zone: the launch price.
  const [other] = instanceUsage(inst({ market: "spot", availabilityZone: "c" }), ALL, T0 + 2 * H, prices);
  assert.ok(Math.abs(other!.cost - 0.36) < 1e-12);
});

test("windows clip lines: a run across midnight splits between days", () => {
  const start = Date.UTC(2026, 10, 10, 23, 0, 0);
  const h = inst({ billStart: start, endedAt: start + 2 * H });
  const day10 = instanceUsage(h, { from: Date.UTC(2026, 10, 10), to: Date.UTC(2026, 10, 11) }, start + 3 * H, launchPrice);
  const day11 = instanceUsage(h, { from: Date.UTC(2026, 10, 11), to: Date.UTC(2026, 10, 12) }, start + 3 * H, launchPrice);
  assert.ok(Math.abs(day10[0]!.cost - 0.36) < 1e-12 && Math.abs(day11[0]!.cost - 0.36) < 1e-12);
});

test("a volume costs size x price per GB-month, prorated by each month's length", () => {
  const created = Date.UTC(2026, 9, 31); // Oct 31 (31-day month) to Nov 2 (30-day month)
  const [line] = volumeUsage({ userId: "ann", purpose: "p", sizeGiB: 100, createdAt: created }, 0.08, ALL, Date.UTC(2026, 10, 2));
  assert.ok(Math.abs(line!.cost - (8 / 31 + (8 * 1) / 30)) < 1e-12);
});

test("report options: month, grouping and format are checked with clear messages", () => {
  const now = Date.UTC(2026, 10, 23);
  assert.deepEqual(parseReportRequest({}, ["json", "csv"], now), { month: "2026-11", by: "user", format: "json" });
  assert.throws(() => parseReportRequest({ month: "2026-13" }, ["json"], now), /Invalid month "2026-13": use YYYY-MM/);
  assert.throws(() => parseReportRequest({ by: "team" }, ["json"], now), /Invalid grouping "team": use one of user, purpose, tag/);
  assert.throws(() => parseReportRequest({ format: "xml" }, ["json", "csv"], now), (e: Error & { code?: string }) => e.code === "INVALID_REQUEST" && /json, csv/.test(e.message));
  assert.deepEqual(parseMonth("2026-02"), { from: Date.UTC(2026, 1, 1), to: Date.UTC(2026, 2, 1) });
});

test("by tag, each key=value of a purpose gets its lines; untagged purposes share a row; CSV escapes", () => {
  const config = poolConfig({ purposes: [purpose({ name: "a", costTags: { team: "x", cc: "1" } }), purpose({ name: "b" })] });
  const line = (p: string, account: string, cost: number) => ({ kind: "instance" as const, instanceId: "i", purpose: p, account, from: 0, to: H, cost });
  const { rows, total } = groupLines([line("a", "ann", 2), line("b", "bob", 1), line("a", POOL_ACCOUNT, 0.5)], "tag", config);
  assert.deepEqual(rows.map((r) => [r.key, r.total, r.warmIdleCost]), [["cc=1", 2.5, 0.5], ["team=x", 2.5, 0.5], ["(untagged)", 1, 0]]);
  assert.equal(total.total, 3.5);
  const csv = reportCsv({ month: "2026-11", by: "user", currency: "USD", asOf: "", rows: [{ ...rows[0]!, key: 'a,"b' }], total });
  assert.match(csv, /^user,instanceHours,instanceCost,warmIdleCost,volumeCost,total\n"a,""b",/);
});
