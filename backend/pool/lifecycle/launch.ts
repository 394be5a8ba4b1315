/**
 * Launch step: every `launching` row is handed to the provider with its own id as the
 * idempotency token, so a crash between the provider call and the row update re-sends the
 * same launch rather than a second one. Launches run in the background of the loop; the
 * in-memory set only stops this process from starting the same row twice at once.
 */
import type { PurposeConfig } from "../../config/schema";
import { PoolError } from "../../errors";
import { listInStates, type Instance } from "../../store/instances";
import { configuredPurpose, type PoolContext } from "../context";
import { changeWithEvent, transition } from "../transitions";
import type { LifecycleStep } from "./step";

const MAX_ATTEMPTS = 6;
const RETRYABLE = new Set(["PROVIDER_THROTTLED", "PROVIDER_UNAVAILABLE"]);

export function launchBackoffMs(attempt: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attempt - 1));
}

export class Launcher {
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly ctx: PoolContext) {}

  isInFlight(id: string): boolean {
    return this.inFlight.has(id);
  }

  /** Starts launches for due rows; resolves once they are started, not finished. */
  async startDue(): Promise<number> {
    return this.start(await listInStates(this.ctx.db, ["launching"]));
  }

  /**
   * Starts launches for `rows` (launching rows this process has just inserted, as inserted),
   * without reading them back: the warm pool's spares of this tick. A row it missed, or one
   * left by a crash, is found by startDue on a later tick (the survey sees it launching).
   */
  start(rows: readonly Instance[]): number {
    const now = this.ctx.clock.now();
    let started = 0;
    for (const row of rows) {
      if (row.providerId || row.nextAttemptAt > now || this.inFlight.has(row.id)) continue;
      const purpose = configuredPurpose(this.ctx, row.purpose);
      if (!purpose) continue; // the retire step releases it
      const p = this.launchOne(row, purpose).finally(() => this.inFlight.delete(row.id));
      this.inFlight.set(row.id, p);
      started++;
    }
    return started;
  }

  /** Waits for every launch this process has under way (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }

  private async launchOne(row: Instance, purpose: PurposeConfig): Promise<void> {
    const { ctx } = this;
    const attempt = row.launchAttempts + 1;
    try {
      const result = await ctx.provider.launch({ instanceId: row.id, purpose, poolName: ctx.config.poolName, ownerId: row.ownerId });
      const now = ctx.clock.now();
      const details = { ...row.details, ...(result.details ?? {}) };
      // The `launched` event starts the instance's billing: it is written with the row.
      const launched = {
        // The provider's launch time: a launch re-sent after a crash is billed from the first.
        at: Math.min(result.launchedAt ?? now, now),
        userId: row.ownerId,
        purpose: row.purpose,
        kind: "launched" as const,
        actor: "lifecycle",
        details: { providerId: result.providerId, instanceType: result.instanceType, market: result.market, attempt },
      };
      const log = { msg: "instance launched", fields: { providerId: result.providerId, purpose: row.purpose, attempt } };
      const ok = await transition(ctx, row.id, {
        from: "launching",
        to: "booting",
        patch: {
          providerId: result.providerId,
          instanceType: result.instanceType,
          market: result.market,
          hourlyPrice: result.hourlyPrice ?? purpose.hourlyPrice ?? null,
          availabilityZone: result.availabilityZone,
          details,
          // Launched for its owner: the provider has set it up for them already.
          handedOverTo: row.ownerId ?? undefined,
          launchAttempts: attempt,
          updatedAt: now,
        },
        event: launched,
        log,
      });
      if (!ok) {
        // Released while the launch was under way: record where it went so the terminate step finds it.
        const price = result.hourlyPrice ?? purpose.hourlyPrice ?? null;
        await changeWithEvent(ctx, row.id, { providerId: result.providerId, instanceType: result.instanceType, market: result.market, hourlyPrice: price, details, updatedAt: now }, {}, launched, log);
      }
      ctx.metrics.launches.inc({ purpose: row.purpose, outcome: "launched" });
    } catch (err) {
      await this.recordFailure(row, attempt, err);
    }
  }

  private async recordFailure(row: Instance, attempt: number, err: unknown): Promise<void> {
    const { ctx } = this;
    const now = ctx.clock.now();
    const code = err instanceof PoolError ? err.code : "PROVIDER_ERROR";
    const message = err instanceof Error ? err.message : String(err);
    const retry = (RETRYABLE.has(code) || !(err instanceof PoolError)) && attempt < MAX_ATTEMPTS;
    if (retry) {
      const nextAttemptAt = now + launchBackoffMs(attempt);
      await changeWithEvent(
        ctx,
        row.id,
        { launchAttempts: attempt, nextAttemptAt, stateReason: message, updatedAt: now },
        { states: ["launching"] },
        { userId: row.ownerId, purpose: row.purpose, kind: "launch-retry", reason: message, actor: "lifecycle", details: { code, attempt } },
        { level: "warn", msg: "launch failed, will retry", fields: { code, attempt, err: message } },
      );
      ctx.metrics.launches.inc({ purpose: row.purpose, outcome: "retry" });
      return;
    }
    await transition(ctx, row.id, {
      from: "launching",
      to: "failed",
      patch: { stateReason: message, ownerId: null, idleDeadline: null, launchAttempts: attempt, endedAt: now, updatedAt: now },
      event: { userId: row.ownerId, purpose: row.purpose, kind: "launch-failed", reason: message, actor: "lifecycle", details: { code, attempt } },
    });
    ctx.metrics.launches.inc({ purpose: row.purpose, outcome: "failed" });
    ctx.log.error({ event: "launch-failed", instanceId: row.id, code, attempt, err: message }, "launch failed for good");
  }
}

export const launchStep: LifecycleStep = {
  name: "launch",
  due: (t) => t.plan.launch,
  async run(t) {
    await t.launcher.startDue();
  },
};

/** Launches the spares the warm step asked for, in the same tick. */
export const launchWarmStep: LifecycleStep = {
  name: "launch-warm",
  due: (t) => t.plan.launchWarm,
  async run(t) {
    // The warm step's own rows, as it inserted them. After a failed step every step runs, and
    // this one reads every launching row back, as the launch step would (its retry).
    if (t.warmLaunches && !t.uncertain) t.launcher.start(t.warmLaunches);
    else await t.launcher.startDue();
  },
};
