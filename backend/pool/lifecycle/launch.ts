/**
 * Launch step: every `launching` row is handed to the provider with its own id as the
 * idempotency token, so a crash between the provider call and the row update re-sends the
 * same launch rather than a second one. Launches run in the background of the loop; the
 * in-memory set only stops this process from starting the same row twice at once.
 */
import { PoolError } from "../../errors";
import { recordEvent } from "../../store/events";
import { listInStates, updateInstance, type Instance } from "../../store/instances";
import { purposeOf, type PoolContext } from "../context";

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
    const now = this.ctx.clock.now();
    const rows = await listInStates(this.ctx.db, ["launching"]);
    let started = 0;
    for (const row of rows) {
      if (row.providerId || row.nextAttemptAt > now || this.inFlight.has(row.id)) continue;
      const p = this.launchOne(row).finally(() => this.inFlight.delete(row.id));
      this.inFlight.set(row.id, p);
      started++;
    }
    return started;
  }

  /** Waits for every launch this process has under way (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }

  private async launchOne(row: Instance): Promise<void> {
    const { ctx } = this;
    const purpose = purposeOf(ctx, row.purpose);
    const attempt = row.launchAttempts + 1;
    try {
      const result = await ctx.provider.launch({ instanceId: row.id, purpose, poolName: ctx.config.poolName, ownerId: row.ownerId });
      const now = ctx.clock.now();
      const details = { ...row.details, ...(result.details ?? {}) };
      // The row and its `launched` event (the ledger's billing start) in one transaction: a
      // crash between them left instances that ran unbilled (found by the crash harness).
      await ctx.db.transaction().execute(async (trx) => {
        const ok = await updateInstance(
          trx,
          row.id,
          {
            state: "booting",
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
          { states: ["launching"] },
        );
        if (!ok) {
          // Released while the launch was under way: record where it went so the terminate step finds it.
          await updateInstance(trx, row.id, { providerId: result.providerId, details, updatedAt: now });
        }
        await recordEvent(trx, {
          // The provider's launch time: a launch re-sent after a crash is billed from the first.
          at: Math.min(result.launchedAt ?? now, now),
          instanceId: row.id,
          userId: row.ownerId,
          purpose: row.purpose,
          kind: "launched",
          actor: "lifecycle",
          details: { providerId: result.providerId, instanceType: result.instanceType, market: result.market, attempt },
        });
      });
      ctx.metrics.launches.inc({ purpose: row.purpose, outcome: "launched" });
      ctx.log.info({ event: "launched", instanceId: row.id, providerId: result.providerId, purpose: row.purpose, attempt }, "instance launched");
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
      await updateInstance(ctx.db, row.id, { launchAttempts: attempt, nextAttemptAt, stateReason: message, updatedAt: now }, { states: ["launching"] });
      await recordEvent(ctx.db, { at: now, instanceId: row.id, userId: row.ownerId, purpose: row.purpose, kind: "launch-retry", reason: message, actor: "lifecycle", details: { code, attempt } });
      ctx.metrics.launches.inc({ purpose: row.purpose, outcome: "retry" });
      ctx.log.warn({ event: "launch-retry", instanceId: row.id, code, attempt, err: message }, "launch failed, will retry");
      return;
    }
    const ok = await updateInstance(
      ctx.db,
      row.id,
      { state: "failed", stateReason: message, ownerId: null, idleDeadline: null, launchAttempts: attempt, endedAt: now, updatedAt: now },
      { states: ["launching"] },
    );
    if (ok) {
      await recordEvent(ctx.db, { at: now, instanceId: row.id, userId: row.ownerId, purpose: row.purpose, kind: "launch-failed", reason: message, actor: "lifecycle", details: { code, attempt } });
    }
    ctx.metrics.launches.inc({ purpose: row.purpose, outcome: "failed" });
    ctx.log.error({ event: "launch-failed", instanceId: row.id, code, attempt, err: message }, "launch failed for good");
  }
}
