/**
 * The ledger agrees to the cent with an independent recomputation: a seeded generator writes
 * random instance histories (instances rows, events, spot price changes) into a real SQLite
 * store and keeps its own ground truth; this file recomputes every figure second by second
 * from that truth (no ledger code) and compares with the ledger, the budget spend and the
 * admin report, for several seeds.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ledger } from "../../../backend/cost/ledger";
import { recordSpotPrices } from "../../../backend/store/ledger-history";
import { buildReport } from "../../../backend/cost/report";
import { recordEvent } from "../../../backend/store/events";
import { insertInstance, type Instance } from "../../../backend/store/instances";
import type { Store } from "../../../backend/store/db";
import { memoryStore, poolConfig, purpose, seededRandom } from "../../support/cost-fixtures";

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0); // 2026-11-23 12:00 UTC
const NOV = { from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 11, 1) };
const TODAY = { from: Date.UTC(2026, 10, 23), to: Date.UTC(2026, 10, 24) };
const USERS = ["ann", "bob", "cem", "dia", "eli"];
const TYPES = ["t3.large", "m5.xlarge"];
const ZONES = ["eu-central-1a", "eu-central-1b"];
const EBS = 0.1;
const config = poolConfig({
  ebsPricePerGbMonth: EBS,
  purposes: [
    purpose({ name: "analysis", costTags: { team: "data", project: "x" }, ec2: { homeVolumeGiB: 30, imageId: "ami-0123456789abcdef0" } as never }),
    purpose({ name: "teaching" }),
  ],
});

interface Truth {
  purpose: string;
  owner: string | null;
  assignedAt: number | null;
  billStart: number | null;
  endedAt: number | null;
  market: string;
  type: string;
  zone: string;
  launchPrice: number;
}

interface Generated {
  truths: Truth[];
  spot: Array<{ type: string; zone: string; at: number; price: number }>;
}

const sec = (ms: number) => Math.floor(ms / 1000) * 1000;

async function generate(store: Store, seed: number): Promise<Generated> {
  const rand = seededRandom(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const spot: Generated["spot"] = [];
  for (const type of TYPES) for (const zone of ZONES) {
    for (let t = Date.UTC(2026, 9, 15); t < NOW; t += sec(rand() * 3 * 86_400_000) + 1000) spot.push({ type, zone, at: t, price: Math.round(rand() * 2000) / 10000 + 0.01 });
  }
  await recordSpotPrices(store.db, spot.map((s) => ({ instanceType: s.type, availabilityZone: s.zone, at: s.at, hourlyPrice: s.price })));
  const truths: Truth[] = [];
  const holding = new Set<string>(); // one live instance per owner and purpose (a database rule)
  for (let i = 0; i < 160; i++) {
    const requested = sec(Date.UTC(2026, 9, 25) + rand() * (NOW - Date.UTC(2026, 9, 25) - 3_600_000));
    const reached = rand() < 0.9;
    const billStart = reached ? requested + sec(rand() * 40_000) : null;
    const owner = rand() < 0.7 ? pick(USERS) : null;
    const forClaim = owner !== null && rand() < 0.4;
    const assignedAt = owner === null ? null : forClaim ? requested : (billStart ?? requested) + sec(rand() * 4 * 3_600_000);
    // Short runs (under the 60 s minimum), long ones, ms-precise ends, and some still running.
    const length = rand() < 0.15 ? rand() * 70_000 : rand() * 8 * 3_600_000;
    let endedAt: number | null = rand() < 0.15 ? null : (billStart ?? requested) + Math.max(0, (assignedAt ?? 0) - (billStart ?? requested)) + Math.floor(length);
    if (endedAt !== null && endedAt > NOW) endedAt = null;
    const t: Truth = { purpose: pick(["analysis", "teaching"]), owner, assignedAt, billStart, endedAt: reached ? endedAt : (billStart ?? requested) + 5000, market: pick(["spot", "on-demand"]), type: pick(TYPES), zone: pick(ZONES), launchPrice: Math.round(rand() * 5000) / 10000 + 0.02 };
    truths.push(t);
    const id = `rsp-${i.toString(16).padStart(16, "0")}`;
    const live = t.endedAt === null;
    const holds = live && owner !== null && !holding.has(`${owner}/${t.purpose}`);
    if (holds) holding.add(`${owner}/${t.purpose}`);
    const row: Instance = {
      id, purpose: t.purpose, provider: "ec2", providerId: reached ? `i-${i}` : null, state: live ? "running" : reached ? "terminated" : "failed", stateReason: null,
      ownerId: holds ? owner : null, lastOwnerId: owner, instanceType: t.type, market: t.market, hourlyPrice: t.launchPrice, availabilityZone: t.zone, privateDns: null,
      details: {}, handedOverTo: null, jobId: null, launchAttempts: 1, nextAttemptAt: requested, launchedAt: requested, runningAt: billStart, assignedAt, idleDeadline: null, endedAt: t.endedAt, updatedAt: requested,
    };
    await insertInstance(store.db, row);
    const ev = (at: number, kind: Parameters<typeof recordEvent>[1]["kind"], userId: string | null = null) =>
      recordEvent(store.db, { at, instanceId: id, userId, purpose: t.purpose, kind, actor: "test" });
    await ev(requested, "launch-requested", forClaim ? owner : null);
    if (billStart !== null) {
      await ev(billStart, "launched");
      if (rand() < 0.2) await ev(billStart + 1000, "launched"); // a recovered launch recorded again: billing starts at the first
    }
    if (owner !== null) await ev(assignedAt!, "assigned", owner);
    if (t.endedAt !== null) await ev(t.endedAt, reached ? "terminated" : "launch-failed");
  }
  return { truths, spot };
}

/** Independent recomputation: walk every billed second of every instance. */
function expected(g: Generated, window: { from: number; to: number }) {
  const byAccount = new Map<string, number>();
  const byPurpose = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (const t of g.truths) {
    if (t.billStart === null) continue;
    const runMs = (t.endedAt ?? NOW) - t.billStart;
    const seconds = Math.max(60, Math.ceil(runMs / 1000));
    const changes = g.spot.filter((s) => s.type === t.type && s.zone === t.zone).sort((a, b) => a.at - b.at);
    for (let k = 0; k < seconds; k++) {
      const at = t.billStart + k * 1000;
      if (at < window.from || at >= window.to || at >= NOW + 60_000) continue;
      let price = t.launchPrice;
      if (t.market === "spot") for (const c of changes) if (c.at <= at) price = c.price;
      const account = t.owner !== null && at >= t.assignedAt! ? t.owner : "(pool)";
      add(byAccount, account, price / 3600);
      add(byPurpose, t.purpose, price / 3600);
    }
  }
  // Home volumes: 30 GiB for each user of "analysis", from their first assignment, prorated over the month's length.
  const first = new Map<string, number>();
  for (const t of g.truths) if (t.owner && t.purpose === "analysis") first.set(t.owner, Math.min(first.get(t.owner) ?? Infinity, t.assignedAt!));
  for (const [user, createdAt] of first) {
    const from = Math.max(createdAt, window.from);
    const to = Math.min(NOW, window.to);
    if (to <= from) continue;
    // Every window here lies inside November (30 days).
    const v = (30 * EBS * (to - from)) / (30 * 86_400_000);
    add(byAccount, user, v);
    add(byPurpose, "analysis", v);
  }
  return { byAccount, byPurpose };
}

const cents = (x: number) => Math.round(x * 100);

for (const seed of [1, 2, 3, 42]) {
  test(`ledger agrees to the cent with a second-by-second recomputation (seed ${seed})`, async () => {
    const store = await memoryStore();
    try {
      const g = await generate(store, seed);
      const ledger = new Ledger(store.db, config);
      for (const window of [NOV, TODAY]) {
        const want = expected(g, window);
        assert.ok(want.byAccount.size >= 3, "the generator produced usage for several accounts");
        for (const [account, cost] of want.byAccount) {
          if (account === "(pool)") continue;
          assert.equal(cents(await ledger.spend(window, NOW, { ownerId: account })), cents(cost), `spend of ${account}`);
        }
        for (const [p, cost] of want.byPurpose) {
          assert.equal(cents(await ledger.spend(window, NOW, { purpose: p })), cents(cost), `spend of purpose ${p}`);
        }
      }
      const want = expected(g, NOV);
      const report = await buildReport(store.db, config, { month: "2026-11", by: "user" }, NOW);
      assert.equal(report.rows.length, want.byAccount.size);
      for (const row of report.rows) assert.equal(cents(row.total), cents(want.byAccount.get(row.key)!), `report row ${row.key}`);
      const total = [...want.byAccount.values()].reduce((a, b) => a + b, 0);
      assert.equal(cents(report.total.total), cents(total));
      const byTag = await buildReport(store.db, config, { month: "2026-11", by: "tag" }, NOW);
      assert.equal(cents(byTag.rows.find((r) => r.key === "team=data")!.total), cents(want.byPurpose.get("analysis")!));
      assert.equal(cents(byTag.rows.find((r) => r.key === "(untagged)")!.total), cents(want.byPurpose.get("teaching")!));
    } finally {
      await store.close();
    }
  });
}
