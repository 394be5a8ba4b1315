/**
 * Crash safety in `npm test`: a few random SIGKILLs of the real backend while claims,
 * launches, releases and reaps are in flight (see test/support/crash-harness.ts; `npm run
 * crash` runs 100 kill points). Linux only: the harness reads processes from /proc.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ensureBuilt } from "../support/cli";
import { runCrashHarness } from "../support/crash-harness";

const POINTS = Number(process.env.CRASH_POINTS ?? 5);

describe("crash safety of the real backend", { skip: process.platform === "linux" ? false : "needs /proc (Linux)" }, () => {
  it(`${POINTS} random SIGKILLs: no orphan, duplicate, loss, double owner or billing drift`, { timeout: 600_000 }, async () => {
    ensureBuilt();
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    const r = await runCrashHarness({ killPoints: POINTS, seed });
    const context = `seed ${seed} (CRASH_SEED=${seed} repeats it): ${JSON.stringify(r)}`;
    assert.ok(r.claims > 0 && r.launches > 0, `the workload ran: ${context}`);
    assert.deepEqual(r.orphans, [], context);
    assert.deepEqual(r.duplicateLaunches, [], context);
    assert.deepEqual(r.lost, [], context);
    assert.deepEqual(r.doubleOwners, [], context);
    assert.deepEqual(r.billingMismatches, [], context);
    assert.equal(r.leftAfterDrain, 0, context);
  });
});
