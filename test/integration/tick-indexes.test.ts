/**
 * Migration 20261202_0009_tick_indexes (issue #16): the tick's survey of the live rows and its
 * reads of pending hand-overs and booting rows now go through partial indexes and a
 * purpose-by-purpose walk. They must say exactly what a plain reading of every row says, on
 * SQLite and PostgreSQL, with the indexes and without them (after the migration is undone).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LIVE_STATES, SERVING_STATES, type InstanceState } from "../../contract";
import { migrateTo, migrateToLatest } from "../../backend/store/migrate";
import { findPendingHandOvers, listAll, listBooting, surveyLive, type Instance, type LiveGroup } from "../../backend/store/instances";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

const BEFORE = "20261202_0006_instance_job";
const INDEXES = ["instances_hand_over_pending", "instances_owned_idle", "instances_state_launched"];
const T0 = 1_800_000_000_000;

/** A seeded mix of rows: every state, three purposes, owners handed over or not, deadlines. */
function rows(seed: number, n: number): Array<Record<string, unknown>> {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rand() * a.length)]!;
  const states: InstanceState[] = [...LIVE_STATES, "running", "running", "running", "terminated", "failed", "lost"];
  return Array.from({ length: n }, (_, k) => {
    const state = pick(states);
    const live = LIVE_STATES.includes(state);
    const owner = live && state !== "releasing" && rand() < 0.7 ? `u${seed}-${k}` : null;
    const handedOver = owner ? pick([owner, null, "someone-else"]) : rand() < 0.3 ? `old${seed}-${k}` : null;
    return {
      id: `rsp-${String(k).padStart(16, "0")}`,
      purpose: pick(["rstudio", "gpu", "jupyter"]),
      provider: "local",
      provider_id: rand() < 0.9 ? `p-${k}` : null,
      state,
      state_reason: null,
      owner_id: owner,
      last_owner_id: owner ?? (rand() < 0.5 ? `u${seed}-${k}` : null),
      instance_type: null,
      market: null,
      hourly_price: null,
      availability_zone: "z",
      private_dns: null,
      details: "{}",
      launch_attempts: 1,
      next_attempt_at: T0,
      launched_at: T0 + Math.floor(rand() * 3_600_000),
      running_at: state === "running" ? T0 + 3_600_000 : null,
      assigned_at: owner ? T0 : null,
      idle_deadline: owner && rand() < 0.9 ? T0 + Math.floor(rand() * 7_200_000) : null,
      ended_at: live ? null : T0 + 7_200_000,
      updated_at: T0,
      handed_over_to: handedOver,
      job_id: null,
    };
  });
}

/** The survey as a plain reading of every row gives it. */
function expectedSurvey(all: Instance[]): LiveGroup[] {
  const groups = new Map<string, LiveGroup>();
  for (const i of all) {
    if (!LIVE_STATES.includes(i.state)) continue;
    const key = `${i.purpose}|${i.state}`;
    const g = groups.get(key) ?? { purpose: i.purpose, state: i.state, free: 0, pendingHandOvers: 0, nextIdleDeadline: null, oldestLaunchedAt: null };
    groups.set(key, g);
    if (!i.ownerId) g.free++;
    if (i.ownerId && i.handedOverTo !== i.ownerId) g.pendingHandOvers++;
    if (i.ownerId && i.idleDeadline !== null) g.nextIdleDeadline = Math.min(g.nextIdleDeadline ?? Infinity, i.idleDeadline);
    g.oldestLaunchedAt = Math.min(g.oldestLaunchedAt ?? Infinity, i.launchedAt);
  }
  return sorted([...groups.values()]);
}

const sorted = (g: LiveGroup[]) => [...g].map((x) => ({ ...x })).sort((a, b) => `${a.purpose}|${a.state}`.localeCompare(`${b.purpose}|${b.state}`));

async function indexNames(ts: TestStore): Promise<string[]> {
  const db = ts.store.db as any;
  const names =
    ts.store.dialect === "postgres"
      ? await db.selectFrom("pg_indexes").select("indexname as name").where("tablename", "=", "instances").execute()
      : await db.selectFrom("sqlite_master").select("name").where("type", "=", "index").where("tbl_name", "=", "instances").execute();
  return (names as Array<{ name: string }>).map((r) => r.name).filter((n) => INDEXES.includes(n)).sort();
}

for (const kind of STORE_KINDS) {
  describe(`tick indexes on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind, (store) => migrateTo(store, BEFORE));
      const db = ts.store.db as any;
      for (const seed of [1, 2, 3]) await db.insertInto("instances").values(rows(seed * 1000, 120).map((r) => ({ ...r, id: `${r.id}-${seed}` }))).execute();
    });
    after(async () => {
      await ts?.cleanup();
    });

    const check = async (label: string) => {
      const db = ts.store.db;
      const all = await listAll(db);
      assert.deepEqual(sorted(await surveyLive(db)), expectedSurvey(all), `${label}: the survey`);
      const pending = all.filter((i) => i.state === "running" && i.ownerId !== null && i.handedOverTo !== i.ownerId).map((i) => i.id);
      assert.deepEqual((await findPendingHandOvers(db)).map((i) => i.id).sort(), pending.sort(), `${label}: pending hand-overs`);
      const booting = all.filter((i) => i.state === "booting").sort((a, b) => a.purpose.localeCompare(b.purpose) || a.launchedAt - b.launchedAt);
      assert.deepEqual(
        (await listBooting(db)).map((i) => [i.purpose, i.launchedAt]),
        booting.map((i) => [i.purpose, i.launchedAt]),
        `${label}: booting rows, by purpose and launch`,
      );
      assert.ok(booting.length > 0 && pending.length > 0 && all.some((i) => SERVING_STATES.includes(i.state) && !i.ownerId), "the rows cover every case");
    };

    it("reads the same before the migration, after it, and after undoing it", async () => {
      await check("before");
      assert.deepEqual(await indexNames(ts), []);
      assert.ok((await migrateToLatest(ts.store)).includes("20261202_0009_tick_indexes"));
      assert.deepEqual(await indexNames(ts), INDEXES);
      await check("with the indexes");
      await migrateTo(ts.store, BEFORE);
      assert.deepEqual(await indexNames(ts), []);
      await check("undone");
      await migrateToLatest(ts.store);
      assert.deepEqual(await indexNames(ts), INDEXES);
    });

    it("an empty table has no groups", async () => {
      const fresh = await createTestStore(kind);
      try {
        assert.deepEqual(await surveyLive(fresh.store.db), []);
        assert.deepEqual(await findPendingHandOvers(fresh.store.db), []);
      } finally {
        await fresh.cleanup();
      }
    });
  });
}
