import assert from "node:assert/strict";
import { test } from "node:test";
import { planTick } from "../../backend/pool/lifecycle/plan";
import type { LiveGroup } from "../../backend/store/instances";

const NOW = 1_000_000_000;
const group = (g: Partial<LiveGroup> & Pick<LiveGroup, "state">): LiveGroup => ({
  purpose: "rstudio",
  free: 0,
  pendingHandOvers: 0,
  nextIdleDeadline: null,
  oldestLaunchedAt: NOW - 1000,
  ...g,
});

test("an empty pool has no step to run and no spares", () => {
  const plan = planTick([], NOW, 3_600_000);
  assert.deepEqual(plan, { launch: false, boot: false, assign: false, reap: false, expire: false, terminate: false, retire: false, launchWarm: false, interrupting: false, freeByPurpose: new Map() });
});

test("each state wakes the step that moves it on", () => {
  assert.equal(planTick([group({ state: "launching" })], NOW, 3_600_000).launch, true);
  assert.equal(planTick([group({ state: "booting" })], NOW, 3_600_000).boot, true);
  assert.equal(planTick([group({ state: "releasing" })], NOW, 3_600_000).terminate, true);
  assert.equal(planTick([group({ state: "interrupting" })], NOW, 3_600_000).interrupting, true);
  const quiet = planTick([group({ state: "running", nextIdleDeadline: NOW + 1 })], NOW, 3_600_000);
  assert.deepEqual([quiet.launch, quiet.boot, quiet.assign, quiet.reap, quiet.expire, quiet.terminate], [false, false, false, false, false, false]);
});

test("hand-overs, idle deadlines and lifetimes are due only when their time or need has come", () => {
  assert.equal(planTick([group({ state: "running", pendingHandOvers: 1 })], NOW, 3_600_000).assign, true);
  assert.equal(planTick([group({ state: "running", nextIdleDeadline: NOW })], NOW, 3_600_000).reap, true, "a deadline at now is due");
  assert.equal(planTick([group({ state: "booting", nextIdleDeadline: NOW - 1 })], NOW, 3_600_000).reap, true, "owned while booting counts too");
  assert.equal(planTick([group({ state: "releasing", nextIdleDeadline: NOW - 1 })], NOW, 3_600_000).reap, false, "a releasing row is not reaped again");
  assert.equal(planTick([group({ state: "running", oldestLaunchedAt: NOW - 3_600_000 })], NOW, 3_600_000).expire, true);
  assert.equal(planTick([group({ state: "running", oldestLaunchedAt: NOW - 3_599_999 })], NOW, 3_600_000).expire, false);
  assert.equal(planTick([group({ state: "booting", oldestLaunchedAt: 0 })], NOW, 3_600_000).expire, false, "only running instances expire");
});

test("spares are counted per purpose over launching, booting and running, never releasing", () => {
  const plan = planTick(
    [
      group({ state: "launching", free: 1 }),
      group({ state: "booting", free: 2 }),
      group({ state: "running", free: 4 }),
      group({ state: "releasing", free: 5 }),
      group({ purpose: "gpu", state: "running", free: 1 }),
    ],
    NOW,
    3_600_000,
  );
  assert.deepEqual([...plan.freeByPurpose], [["rstudio", 7], ["gpu", 1]]);
});

test("live instances of a purpose no longer configured wake the retire step", () => {
  const known = new Set(["rstudio"]);
  assert.equal(planTick([group({ state: "running" })], NOW, 3_600_000, known).retire, false);
  assert.equal(planTick([group({ state: "running", purpose: "gone" })], NOW, 3_600_000, known).retire, true);
  assert.equal(planTick([group({ state: "booting", purpose: "gone" })], NOW, 3_600_000, known).retire, true);
  assert.equal(planTick([group({ state: "releasing", purpose: "gone" })], NOW, 3_600_000, known).retire, false, "already on its way out");
});
