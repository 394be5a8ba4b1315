/**
 * The pool faults a first operator hits (issue #10), each on SQLite and PostgreSQL: a purpose
 * removed from the configuration, an instance that comes back after being marked lost, a claim
 * at the size limit while a spare boots, and a provider call that hangs.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { PurposeConfig } from "../../backend/config/schema";
import { Ledger } from "../../backend/cost/ledger";
import { PoolError } from "../../backend/errors";
import { createLogger } from "../../backend/log";
import { Pool } from "../../backend/pool/service";
import type { InstanceRef } from "../../backend/providers/types";
import { listEvents } from "../../backend/store/events";
import { getInstance, listAll } from "../../backend/store/instances";
import { aConfig, aPurpose, ManualClock } from "../support/builders";
import { InstantProvider } from "../support/instant-provider";
import { settle } from "../support/pool";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

/** A logger whose lines the test can read. */
function capturedLog() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level: "info", destination }), lines };
}

/** A provider whose busy check for the chosen instances never answers until the test says so. */
class HangingBusyProvider extends InstantProvider {
  readonly hangFor = new Set<string>();
  private waiting: Array<() => void> = [];
  override async isBusy(ref: InstanceRef): Promise<boolean> {
    if (!this.hangFor.has(ref.id)) return super.isBusy(ref);
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return false;
  }
  answer(): void {
    for (const r of this.waiting.splice(0)) r();
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

for (const kind of STORE_KINDS) {
  describe(`pool faults on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind);
    });
    after(async () => {
      await ts?.cleanup();
    });

    async function fresh(purposes: PurposeConfig[], options: { provider?: InstantProvider; clock?: ManualClock; poolName?: string } = {}) {
      await ts.store.db.deleteFrom("events").execute();
      await ts.store.db.deleteFrom("instances").execute();
      await ts.store.db.deleteFrom("leases").execute();
      return start(purposes, options);
    }

    /** A pool on the shared store (a "restart" when called again with another configuration). */
    async function start(purposes: PurposeConfig[], options: { provider?: InstantProvider; clock?: ManualClock; poolName?: string } = {}) {
      const provider = options.provider ?? new InstantProvider();
      const clock = options.clock ?? new ManualClock();
      const { log, lines } = capturedLog();
      const config = aConfig({ purposes, poolName: options.poolName ?? "test-pool" });
      const pool = new Pool({ config, store: ts.store, provider, clock, log });
      await pool.prepare();
      return { pool, provider, clock, lines, config };
    }

    it("still releases, terminates and bills the instances of a purpose removed from the configuration, and says so", async () => {
      const clock = new ManualClock();
      const provider = new InstantProvider();
      const first = await fresh([aPurpose({ name: "gpu", max: 3 }), aPurpose({ name: "rstudio", max: 3 })], { provider, clock });
      const gpu = await first.pool.claim("alice", "gpu");
      const gpuSpare = await first.pool.claim("bob", "gpu");
      const rs = await first.pool.claim("carol", "rstudio");
      await settle(first.pool);
      await first.pool.release("bob", gpuSpare.instance.id);
      await first.pool.release("carol", rs.instance.id);
      // Stopped before terminating: both releasing rows wait for the next start.
      await first.pool.stop();

      clock.advance(60_000);
      const second = await start([aPurpose({ name: "rstudio", max: 3 })], { provider, clock });
      const warning = second.lines.find((l) => l.event === "removed-purpose-instances");
      assert.ok(warning, "start-up warns about the removed purpose's instances");
      assert.match(String(warning.msg), new RegExp(gpu.instance.id));

      await assert.rejects(second.pool.heartbeat("alice", gpu.instance.id), (e: PoolError) => e.code === "PURPOSE_REMOVED" && e.status === 410);
      await assert.rejects(second.pool.connect("alice", gpu.instance.id), (e: PoolError) => e.code === "PURPOSE_REMOVED");

      await second.pool.loop.tick();
      for (const id of [gpu.instance.id, gpuSpare.instance.id, rs.instance.id]) {
        assert.equal((await getInstance(second.pool.db, id))!.state, "terminated", `${id} is terminated`);
        assert.ok(provider.terminated.includes(id), `${id} is terminated at the provider`);
      }
      const events = await listEvents(second.pool.db, { instanceId: gpu.instance.id });
      assert.deepEqual(events.filter((e) => e.kind === "released" || e.kind === "terminated").map((e) => [e.kind, e.reason]), [["released", "purpose-removed"], ["terminated", "purpose-removed"]]);
      const lines = await new Ledger(second.pool.db, second.config).lines({ from: clock.now() - 3_600_000, to: clock.now() + 1 }, clock.now());
      const billed = lines.filter((l) => l.instanceId === gpu.instance.id);
      assert.ok(billed.length > 0 && billed.every((l) => l.cost > 0), "the removed purpose's instance is billed");
      assert.ok(Math.max(...billed.map((l) => l.to)) >= (await getInstance(second.pool.db, gpu.instance.id))!.endedAt!, "billed until it ended");
      await second.pool.stop();
    });

    it("one failing instance does not stop the other instances' terminations", async () => {
      const provider = new InstantProvider();
      const { pool } = await fresh([aPurpose({ max: 3 })], { provider });
      const a = await pool.claim("alice");
      const b = await pool.claim("bob");
      await settle(pool);
      await pool.release("alice", a.instance.id);
      await pool.release("bob", b.instance.id);
      const terminate = provider.terminate.bind(provider);
      provider.terminate = async (refs) => {
        if (refs.some((r) => r.id === a.instance.id)) throw new Error("provider refused this one");
        return terminate(refs);
      };
      await pool.loop.tick();
      assert.equal((await getInstance(pool.db, a.instance.id))!.state, "releasing", "the failing one is retried later");
      assert.equal((await getInstance(pool.db, b.instance.id))!.state, "terminated", "the other is terminated anyway");
      await pool.stop();
    });

    it("terminates an instance marked lost that shows up again, billing it until then, and warns about other pool names", async () => {
      const clock = new ManualClock();
      const provider = new InstantProvider();
      const { pool } = await fresh([aPurpose({ max: 3 })], { provider, clock });
      const a = await pool.claim("alice");
      await settle(pool);
      // The instance moves out of sight (another pool name, say) and is taken for lost...
      provider.fake(a.instance.id)!.poolName = "copied-from-readme";
      clock.advance(10 * 60_000);
      await pool.loop.tick({ forceReconcile: true });
      assert.equal((await getInstance(pool.db, a.instance.id))!.state, "lost");
      const restarted = await start([aPurpose({ max: 3 })], { provider, clock });
      const warning = restarted.lines.find((l) => l.event === "other-pool-instances");
      assert.ok(warning, "start-up warns about instances under another pool name");
      assert.match(String(warning.msg), /copied-from-readme/);
      await pool.stop();

      // ...and comes back: it must not keep running unknown.
      provider.fake(a.instance.id)!.poolName = "test-pool";
      clock.advance(10 * 60_000);
      await restarted.pool.loop.tick({ forceReconcile: true });
      await restarted.pool.loop.tick();
      const row = (await getInstance(restarted.pool.db, a.instance.id))!;
      assert.equal(row.state, "terminated");
      assert.ok(provider.terminated.includes(a.instance.id));
      assert.equal(provider.fake(a.instance.id)!.state, "terminated");
      const kinds = (await listEvents(restarted.pool.db, { instanceId: a.instance.id })).map((e) => e.kind);
      assert.deepEqual(kinds.slice(-3), ["lost", "resurfaced", "terminated"]);
      assert.equal(row.endedAt, clock.now(), "billing runs until the real termination");
      await restarted.pool.stop();
    });

    it("at the size limit a claim takes a spare that is still booting instead of refusing", async () => {
      const provider = new InstantProvider();
      provider.bootPolls = 1000;
      const { pool } = await fresh([aPurpose({ max: 1, minFree: 1 })], { provider });
      await pool.loop.tick();
      await pool.loop.launcher.settle();
      await pool.loop.tick();
      const [spare] = await listAll(pool.db);
      assert.equal(spare!.state, "booting");
      const claim = await pool.claim("alice");
      assert.equal(claim.source, "warm");
      assert.equal(claim.instance.id, spare!.id);
      assert.equal(claim.instance.ownerId, "alice");
      await assert.rejects(pool.claim("bob"), (e: PoolError) => e.code === "POOL_EXHAUSTED", "one spare, one user");
      provider.bootPolls = 0;
      await settle(pool);
      const running = (await getInstance(pool.db, spare!.id))!;
      assert.equal(running.state, "running");
      assert.equal(running.handedOverTo, "alice", "the provider set it up for its new owner");
      assert.ok(provider.assigned.some((x) => x.instanceId === spare!.id && x.userId === "alice"));
      await pool.stop();
    });

    it("a busy check that hangs holds up neither other instances' steps nor claims", async () => {
      const clock = new ManualClock();
      const provider = new HangingBusyProvider();
      const { pool } = await fresh([aPurpose({ max: 5, idleTimeoutSeconds: 60 })], { provider, clock });
      // Generous: the quick busy checks finish within it even on a loaded machine; the hanging one never does.
      pool.loop.opWaitMs = 5000;
      const stuck = await pool.claim("alice");
      const idle = await pool.claim("bob");
      await settle(pool);
      provider.hangFor.add(stuck.instance.id);
      clock.advance(120_000);
      await within(pool.loop.tick(), 30_000, "the tick with a hanging busy check");
      // Ticks go on while the check hangs; the other idle instance is reaped and terminated.
      for (let i = 0; i < 10 && (await getInstance(pool.db, idle.instance.id))!.state !== "terminated"; i++) {
        await within(pool.loop.tick(), 30_000, "a tick while the busy check hangs");
      }
      assert.equal((await getInstance(pool.db, idle.instance.id))!.state, "terminated", "the other idle instance was reaped and terminated");
      assert.equal((await getInstance(pool.db, stuck.instance.id))!.state, "running", "the one being checked waits for its answer");

      // A claim meanwhile gets its instance launched and booted by the next ticks.
      const carol = await pool.claim("carol");
      await within(settle(pool), 60_000, "ticks while the busy check hangs");
      assert.equal((await getInstance(pool.db, carol.instance.id))!.state, "running");
      assert.equal(pool.loop.ops.isRunning(`busy-check:${stuck.instance.id}`), true, "the check still runs, and only once");

      provider.answer();
      await pool.loop.ops.settle(5000);
      await pool.loop.tick();
      assert.equal((await getInstance(pool.db, stuck.instance.id))!.state, "terminated", "once it answers (not busy), it is reaped");
      await pool.stop();
    });
  });
}

for (const kind of STORE_KINDS) {
  describe(`a price change on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind);
    });
    after(async () => {
      await ts?.cleanup();
    });

    it("bills a warm spare launched before a price change at the new price from the change on", async () => {
      const clock = new ManualClock();
      const provider = new InstantProvider();
      const config1 = aConfig({ purposes: [aPurpose({ minFree: 1, hourlyPrice: 1 })] });
      const first = new Pool({ config: config1, store: ts.store, provider, clock });
      await first.prepare();
      await settle(first);
      const [spare] = await listAll(first.db);
      assert.equal(spare!.hourlyPrice, 1);
      const launchedAt = clock.now();
      await first.stop();

      clock.advance(3_600_000);
      const changeAt = clock.now();
      const config2 = aConfig({ purposes: [aPurpose({ minFree: 1, hourlyPrice: 3 })] });
      const second = new Pool({ config: config2, store: ts.store, provider, clock });
      await second.prepare();
      clock.advance(3_600_000);
      const now = clock.now();
      const lines = (await new Ledger(second.db, config2).lines({ from: launchedAt - 1, to: now }, now)).filter((l) => l.instanceId === spare!.id);
      const total = lines.reduce((s, l) => s + l.cost, 0);
      // One hour at 1 before the change, one hour at 3 after it.
      assert.ok(Math.abs(total - 4) < 1e-6, `billed ${total}, expected 4 (1 h at 1 + 1 h at 3)`);
      assert.ok(changeAt > launchedAt);
      await second.stop();
    });
  });
}
