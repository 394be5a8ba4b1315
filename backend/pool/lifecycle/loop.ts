/**
 * The lifecycle loop: one tick at a time (never overlapping), on one replica at a time (a
 * lease in the database). Each tick reads the database and the provider and fixes what
 * differs: launches, boots, hand-overs, idle reaping, lifetime limits, terminations, the warm
 * pool, and every `reconcileMs` a full comparison with the provider. Timers only decide when
 * the next tick runs; what is due is always read from the database (one aggregate read
 * first, then only the steps that have work).
 */
import { randomBytes } from "node:crypto";
import { surveyLive } from "../../store/instances";
import { releaseLease, tryAcquireLease } from "../../store/leases";
import type { PoolContext } from "../context";
import { completeAssignments } from "./assign";
import { watchBooting } from "./boot";
import { Launcher } from "./launch";
import { recordObservedPrices } from "./observed-prices";
import { expireOld, reapIdle } from "./reap";
import { reconcile } from "./reconcile";
import { terminateReleasing } from "./terminate";
import { handOffInterrupting } from "./interrupting";
import { planTick } from "./plan";
import { balanceWarmPool } from "./warm";

const LEASE = "lifecycle";

export class LifecycleLoop {
  readonly holder = `${process.pid}-${randomBytes(4).toString("hex")}`;
  readonly launcher: Launcher;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private rerun = false;
  private stopped = true;
  private lastReconcile = 0;
  /** When this loop last took or renewed the lease (null: it does not hold it). */
  private leaseRenewedAt: number | null = null;

  constructor(private readonly ctx: PoolContext) {
    this.launcher = new Launcher(ctx);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Whether this loop holds the lifecycle lease (as of its last tick). */
  holdsLease(): boolean {
    return this.leaseRenewedAt !== null;
  }

  /** Asks for a tick soon (after a claim or a release) without waiting for the period. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.schedule(0);
  }

  /** Runs one tick now (or waits for the one under way and runs another). Used by tests and the CLI. */
  async tick(options: { forceReconcile?: boolean } = {}): Promise<void> {
    while (this.running) await this.running;
    this.running = this.runTick(options.forceReconcile ?? false).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.running) await this.running;
    await this.launcher.settle();
    this.leaseRenewedAt = null;
    await releaseLease(this.ctx.db, LEASE, this.holder).catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick()
        .catch((err) => this.ctx.log.error({ event: "tick-failed", err: (err as Error).message }, "lifecycle tick failed"))
        .finally(() => {
          const again = this.rerun;
          this.rerun = false;
          this.schedule(again ? 0 : this.ctx.config.tickMs);
        });
    }, delayMs);
    this.timer.unref?.();
  }

  /**
   * Takes or renews the lease. A lease lasts five ticks; renewing it once half of that has
   * passed keeps it held with one write every few ticks rather than every tick.
   */
  private async holdLease(): Promise<boolean> {
    const { ctx } = this;
    const now = ctx.clock.now();
    const leaseMs = Math.max(10_000, ctx.config.tickMs * 5);
    const held = this.leaseRenewedAt;
    if (held !== null && now >= held && now - held < leaseMs / 2) return true;
    const ok = await tryAcquireLease(ctx.db, LEASE, this.holder, now, leaseMs);
    this.leaseRenewedAt = ok ? now : null;
    return ok;
  }

  private async runTick(forceReconcile: boolean): Promise<void> {
    const { ctx } = this;
    if (!(await this.holdLease())) return;
    const inFlight = (id: string) => this.launcher.isInFlight(id);
    const shortestLifetimeMs = Math.min(...ctx.config.purposes.map((p) => p.maxLifetimeSeconds)) * 1000;
    // The plan says which steps have work, as the rows stood when the tick began; a step that
    // changes rows adds the work it leaves for the steps after it.
    const plan = planTick(await surveyLive(ctx.db), ctx.clock.now(), shortestLifetimeMs);
    let knownFree: Map<string, number> | undefined = plan.freeByPurpose;
    let launchWarm = false;
    const everything = () => {
      plan.launch = plan.boot = plan.assign = plan.reap = plan.expire = plan.terminate = plan.interrupting = launchWarm = true;
      knownFree = undefined;
    };
    const steps: Array<[string, () => boolean, () => Promise<void>]> = [
      ["reconcile", () => forceReconcile || ctx.clock.now() - this.lastReconcile >= ctx.config.reconcileMs, async () => {
        const r = await reconcile(ctx, inFlight);
        this.lastReconcile = ctx.clock.now();
        if (r.lost + r.interrupted + r.recovered + r.adopted + r.orphansTerminated > 0) everything();
      }],
      ["launch", () => plan.launch, async () => {
        await this.launcher.startDue();
      }],
      ["boot", () => plan.boot, async () => {
        const p = await watchBooting(ctx);
        // Claimed while booting: the hand-over may be pending. Lost or given up: maybe one
        // spare fewer, and one to terminate.
        if (p.runningAssigned) plan.assign = true;
        if (p.lost || p.timedOut) knownFree = undefined;
        if (p.timedOut) plan.terminate = true;
      }],
      ["assign", () => plan.assign, async () => {
        await completeAssignments(ctx);
      }],
      ["reap", () => plan.reap, async () => {
        if ((await reapIdle(ctx)) > 0) plan.terminate = true;
      }],
      ["expire", () => plan.expire, async () => {
        if ((await expireOld(ctx)) > 0) plan.terminate = true;
      }],
      ["warm", () => true, async () => {
        for (const c of await balanceWarmPool(ctx, knownFree)) {
          if (c.launched) launchWarm = true;
          if (c.scaledDown) plan.terminate = true;
        }
      }],
      ["launch-warm", () => launchWarm, async () => {
        await this.launcher.startDue();
      }],
      ["interrupting", () => plan.interrupting, async () => {
        if ((await handOffInterrupting(ctx)) > 0) plan.terminate = plan.assign = true;
      }],
      ["terminate", () => plan.terminate, async () => {
        await terminateReleasing(ctx, inFlight);
      }],
    ];
    for (const [name, due, step] of steps) {
      if (!due()) continue;
      try {
        await step();
      } catch (err) {
        // One failing step (say the provider is unreachable) must not stop the others, and
        // since what it did is unknown, they all run.
        everything();
        ctx.log.error({ event: "step-failed", step: name, err: (err as Error).message }, `lifecycle step ${name} failed`);
      }
    }
    await recordObservedPrices(ctx).catch((err: unknown) => ctx.log.warn({ event: "spot-prices-not-recorded", err: (err as Error).message }, "could not record spot prices"));
  }
}
