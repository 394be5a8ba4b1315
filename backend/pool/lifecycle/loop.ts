/**
 * The lifecycle loop: one tick at a time (never overlapping), on one replica at a time (a
 * lease in the database). Each tick reads the database and the provider and fixes what
 * differs: launches, boots, hand-overs, idle reaping, lifetime limits, terminations, the warm
 * pool, and every `reconcileMs` a full comparison with the provider; the steps are listed in
 * steps.ts. Timers only decide when the next tick runs; what is due is always read from the
 * database (one aggregate read first, then only the steps that have work). Slow provider
 * operations run beside the tick (ops.ts), so they never hold up other instances or claims.
 */
import { randomBytes } from "node:crypto";
import { surveyLive } from "../../store/instances";
import { releaseLease, tryAcquireLease } from "../../store/leases";
import type { PoolContext } from "../context";
import { Launcher } from "./launch";
import { BackgroundOps } from "./ops";
import { recordObservedPrices } from "./observed-prices";
import { planTick } from "./plan";
import type { PlanFlag, Tick } from "./step";
import { STEPS } from "./steps";

const LEASE = "lifecycle";
/** How long the tick an ended provider operation kicks may wait for others to share it. */
const OP_DONE_TICK_DELAY_MS = 25;

export class LifecycleLoop {
  readonly holder = `${process.pid}-${randomBytes(4).toString("hex")}`;
  readonly launcher: Launcher;
  /** Long provider operations (busy checks, terminations) running beside the ticks. */
  readonly ops: BackgroundOps;
  /** How long a step waits for the provider operations it started before moving on. */
  opWaitMs = 2000;
  private readonly memory = { lastReconcile: 0 };
  private timer: NodeJS.Timeout | null = null;
  /** When the pending timer fires (Date.now), while there is one. */
  private timerDue = 0;
  private running: Promise<void> | null = null;
  /** Kicked during a tick: the next one runs this soon after it (null: at the period). */
  private rerunDelayMs: number | null = null;
  private stopped = true;
  /** When this loop last took or renewed the lease (null: it does not hold it). */
  private leaseRenewedAt: number | null = null;

  constructor(private readonly ctx: PoolContext) {
    this.launcher = new Launcher(ctx);
    // Operations end in bursts (a thousand hand-overs or terminations): their kicks share a tick.
    this.ops = new BackgroundOps(ctx.log, () => this.kick(OP_DONE_TICK_DELAY_MS));
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Whether this loop holds the lifecycle lease (as of its last tick). */
  holdsLease(): boolean {
    return this.leaseRenewedAt !== null;
  }

  /**
   * Asks for a tick within `delayMs` (after a claim or a release) without waiting for the
   * period. Kicks coalesce: while a tick is already due that soon, another kick changes
   * nothing, so a burst of claims kicked with a small delay costs one tick, not one each.
   */
  kick(delayMs = 0): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerunDelayMs = this.rerunDelayMs === null ? delayMs : Math.min(this.rerunDelayMs, delayMs);
      return;
    }
    if (this.timer && this.timerDue <= Date.now() + delayMs) return;
    this.schedule(delayMs);
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
    // A provider operation that hangs must not hold up shutdown: the next start redoes it.
    await this.ops.settle(10_000);
    this.leaseRenewedAt = null;
    await releaseLease(this.ctx.db, LEASE, this.holder).catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick()
        .catch((err) => this.ctx.log.error({ event: "tick-failed", err: (err as Error).message }, "lifecycle tick failed"))
        .finally(() => {
          const again = this.rerunDelayMs;
          this.rerunDelayMs = null;
          this.schedule(again ?? this.ctx.config.tickMs);
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
    const shortestLifetimeMs = Math.min(...ctx.config.purposes.map((p) => p.maxLifetimeSeconds)) * 1000;
    const configured = new Set(ctx.config.purposes.map((p) => p.name));
    // The plan says which steps have work, as the rows stood when the tick began; a step that
    // changes rows adds the work it leaves for the steps after it (its follow-ups).
    const plan = planTick(await surveyLive(ctx.db), ctx.clock.now(), shortestLifetimeMs, configured);
    const tick: Tick = {
      ctx,
      plan,
      knownFree: plan.freeByPurpose,
      forceReconcile,
      launcher: this.launcher,
      ops: this.ops,
      opWaitMs: this.opWaitMs,
      memory: this.memory,
    };
    const everything = () => {
      for (const flag of PLAN_FLAGS) plan[flag] = true;
      tick.knownFree = undefined;
      tick.uncertain = true;
    };
    for (const step of STEPS) {
      if (!step.due(tick)) continue;
      try {
        const next = await step.run(tick);
        if (!next) continue;
        if (next.everything) everything();
        for (const flag of next.due ?? []) plan[flag] = true;
        if (next.recount) tick.knownFree = undefined;
      } catch (err) {
        // One failing step (say the provider is unreachable) must not stop the others, and
        // since what it did is unknown, they all run.
        everything();
        ctx.log.error({ event: "step-failed", step: step.name, err: (err as Error).message }, `lifecycle step ${step.name} failed`);
      }
    }
    await recordObservedPrices(ctx).catch((err: unknown) => ctx.log.warn({ event: "spot-prices-not-recorded", err: (err as Error).message }, "could not record spot prices"));
  }
}

const PLAN_FLAGS: readonly PlanFlag[] = ["launch", "boot", "assign", "reap", "expire", "terminate", "retire", "launchWarm", "interrupting"];
