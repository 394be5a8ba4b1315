/**
 * Reconciler: compares the provider's list of this pool's instances with the database and
 * fixes each difference, logging every fix. Instances that vanished are lost (or interrupted,
 * when the provider took them back); a launch that completed before a crash gets its provider
 * id back; unknown instances with the pool's tag are adopted as warm spares when there is room
 * for them, and terminated otherwise.
 */
import { recordEvent } from "../../store/events";
import { isLive } from "../../../contract";
import { countLiveOfPurposeAndPool, listByIds, listLiveSummaries, type InstanceSummary } from "../../store/instances";
import type { ProviderInstance } from "../../providers/types";
import type { Instance } from "../../store/instances";
import { newInstanceId } from "../ids";
import type { PoolContext } from "../context";
import { changeWithEvent, createInstance, transition } from "../transitions";
import type { LifecycleStep } from "./step";

/** A provider may not list an instance right after launching it (EC2 is eventually consistent). */
const LIST_GRACE_MS = 120_000;

export interface ReconcileReport {
  lost: number;
  interrupted: number;
  recovered: number;
  adopted: number;
  orphansTerminated: number;
  /** Ended rows whose instance was alive again, sent back to be terminated. */
  resurfaced: number;
}

async function markGone(ctx: PoolContext, inst: InstanceSummary, p: ProviderInstance | undefined, report: ReconcileReport): Promise<void> {
  const now = ctx.clock.now();
  // When the provider saw it end (a crash may have come between its end and this): billing ends then.
  const endedAt = Math.min(p?.endedAt ?? now, now);
  if (inst.state === "releasing") {
    // We were terminating it anyway: it is simply done.
    await transition(ctx, inst.id, {
      from: "releasing",
      to: "terminated",
      patch: { endedAt, updatedAt: now },
      event: { at: endedAt, userId: inst.lastOwnerId, purpose: inst.purpose, kind: "terminated", reason: inst.stateReason, actor: "reconciler" },
    });
    return;
  }
  // Warned of an interruption and then gone: interrupted, whatever the list says of why.
  const state = p?.interrupted || inst.state === "interrupting" ? "interrupted" : "lost";
  const reason = p?.stateReason ?? (inst.state === "interrupting" ? "spot-interruption" : p ? `provider state ${p.state}` : "no longer known to the provider");
  const ok = await transition(ctx, inst.id, {
    from: ["booting", "running", "interrupting"],
    to: state,
    patch: { stateReason: reason, ownerId: null, idleDeadline: null, endedAt, updatedAt: now },
    event: { at: endedAt, userId: inst.state === "interrupting" ? inst.lastOwnerId : inst.ownerId, purpose: inst.purpose, kind: state, reason, actor: "reconciler", details: { providerId: inst.providerId } },
    log: { level: "warn", msg: `instance ${state}`, fields: { fix: state, providerId: inst.providerId, userId: inst.ownerId, reason } },
  });
  if (!ok) return;
  ctx.metrics.fixes.inc({ kind: state });
  if (state === "interrupted") report.interrupted++;
  else report.lost++;
}

/** Provider states in which a machine exists (and may cost money): an ended row must not leave it so. */
const ALIVE: ReadonlySet<ProviderInstance["state"]> = new Set(["pending", "running", "stopped"]);

/**
 * An instance whose row has ended (lost, interrupted, failed, terminated) but that the provider
 * lists alive again. It is not re-adopted: its user was told it ended, and their things may still
 * be on it. It goes back to `releasing`, so the terminate step takes the user's things off and
 * terminates it, and billing runs on until then (the provider bills it the whole time).
 */
async function terminateResurfaced(ctx: PoolContext, inst: InstanceSummary, p: ProviderInstance, report: ReconcileReport): Promise<void> {
  const now = ctx.clock.now();
  const reason = `resurfaced while ${inst.state}`;
  const ok = await transition(ctx, inst.id, {
    from: inst.state,
    to: "releasing",
    patch: { providerId: p.providerId, stateReason: reason, ownerId: null, idleDeadline: null, endedAt: null, updatedAt: now },
    event: { userId: inst.lastOwnerId, purpose: inst.purpose, kind: "resurfaced", reason, actor: "reconciler", details: { providerId: p.providerId, providerState: p.state } },
    // A failed launch was never billed: billing starts now that the instance is known to exist.
    alsoEvents: inst.state === "failed" ? [{ userId: null, purpose: inst.purpose, kind: "launched", reason: "resurfaced after a failed launch", actor: "reconciler", details: { providerId: p.providerId } }] : [],
    log: { level: "warn", msg: "an ended instance is alive again; terminating it", fields: { fix: "resurfaced", providerId: p.providerId, was: inst.state } },
  });
  if (!ok) return;
  ctx.metrics.fixes.inc({ kind: "resurfaced" });
  report.resurfaced++;
}

export async function reconcile(ctx: PoolContext, isLaunchInFlight: (id: string) => boolean): Promise<ReconcileReport> {
  const report: ReconcileReport = { lost: 0, interrupted: 0, recovered: 0, adopted: 0, orphansTerminated: 0, resurfaced: 0 };
  const listed = (await ctx.provider.list(ctx.config.poolName)).filter((p) => !p.poolName || p.poolName === ctx.config.poolName);
  const byProviderId = new Map(listed.map((p) => [p.providerId, p]));
  const byInstanceId = new Map(listed.filter((p) => p.instanceId).map((p) => [p.instanceId!, p]));
  // Live rows, plus the ended rows the provider still lists: reading every row ever launched
  // would make each reconcile slower as the history grows.
  const live = await listLiveSummaries(ctx.db);
  const liveIds = new Set(live.map((r) => r.id));
  const liveProviderIds = new Set(live.map((r) => r.providerId));
  const unmatched = listed.filter((p) => !liveProviderIds.has(p.providerId) && !(p.instanceId && liveIds.has(p.instanceId)));
  const rows: InstanceSummary[] = [...live, ...(await listByIds(ctx.db, unmatched.flatMap((p) => (p.instanceId ? [p.instanceId] : [])), unmatched.map((p) => p.providerId)))];
  const rowsById = new Map(rows.map((r) => [r.id, r]));
  const rowsByProviderId = new Map(rows.filter((r) => r.providerId).map((r) => [r.providerId!, r]));
  const now = ctx.clock.now();

  for (const inst of rows) {
    if (!isLive(inst.state)) {
      // An ended row matched a listed instance (see `unmatched` above).
      const p = (inst.providerId ? byProviderId.get(inst.providerId) : undefined) ?? byInstanceId.get(inst.id);
      if (p && ALIVE.has(p.state)) await each(ctx, inst.id, () => terminateResurfaced(ctx, inst, p, report));
      continue;
    }
    if (!inst.providerId) {
      // A launch that reached the provider but not the database (crash in between).
      const p = byInstanceId.get(inst.id);
      if (p && !isLaunchInFlight(inst.id)) {
        const patch = { providerId: p.providerId, instanceType: p.instanceType, market: p.market, availabilityZone: p.availabilityZone, updatedAt: now };
        const event = { userId: inst.ownerId, purpose: inst.purpose, kind: "launched" as const, at: Math.min(p.launchedAt ?? now, now), reason: "recovered by reconciler", actor: "reconciler", details: { providerId: p.providerId } };
        const log = { msg: "launch recovered", fields: { fix: "recovered-launch", providerId: p.providerId } };
        const ok =
          inst.state === "launching"
            ? await transition(ctx, inst.id, { from: "launching", to: "booting", patch, event, log })
            : await changeWithEvent(ctx, inst.id, patch, { states: [inst.state] }, event, log);
        if (ok) report.recovered++;
      }
      continue;
    }
    const p = byProviderId.get(inst.providerId);
    const gone = !p || p.state === "terminated";
    if (!gone) continue;
    if (!p && now - inst.launchedAt < LIST_GRACE_MS && inst.state !== "running") continue;
    await each(ctx, inst.id, () => markGone(ctx, inst, p, report));
  }

  for (const p of listed) {
    if (p.state === "terminated") continue;
    // Rows matched by id were handled above: live ones kept or recovered, ended ones terminated.
    if (rowsByProviderId.has(p.providerId)) continue;
    const known = p.instanceId ? rowsById.get(p.instanceId) : undefined;
    if (known && known.providerId === null) continue;
    const purpose = p.purpose ? ctx.config.purposes.find((x) => x.name === p.purpose) : undefined;
    const live = purpose ? await countLiveOfPurposeAndPool(ctx.db, purpose.name) : null;
    const room = purpose !== undefined && live !== null && live.purpose < purpose.max && live.pool < ctx.config.maxInstances;
    // An instance that carries a user's things (owned, or a home attached) is never a warm spare.
    if (!known && purpose && room && p.state === "running" && !p.tainted) {
      const id = p.instanceId ?? newInstanceId();
      const row: Instance = {
        id,
        purpose: purpose.name,
        provider: ctx.provider.kind,
        providerId: p.providerId,
        state: p.ready ? "running" : "booting",
        stateReason: "adopted",
        ownerId: null,
        lastOwnerId: null,
        instanceType: p.instanceType,
        market: p.market,
        hourlyPrice: purpose.hourlyPrice ?? null,
        availabilityZone: p.availabilityZone,
        privateDns: p.privateDnsName,
        details: {},
        handedOverTo: null,
        jobId: null,
        launchAttempts: 1,
        nextAttemptAt: now,
        launchedAt: p.launchedAt ?? now,
        runningAt: p.ready ? now : null,
        assignedAt: null,
        idleDeadline: null,
        endedAt: null,
        updatedAt: now,
      };
      await createInstance(
        ctx,
        row,
        [{ userId: null, purpose: purpose.name, kind: "adopted", reason: "unknown instance with the pool tag", actor: "reconciler", details: { providerId: p.providerId } }],
        ctx.db,
        { level: "warn", msg: "unknown pool instance adopted as a warm spare", fields: { fix: "adopted", providerId: p.providerId, purpose: purpose.name } },
      );
      ctx.metrics.fixes.inc({ kind: "adopted" });
      report.adopted++;
      continue;
    }
    const why = known ? `a second instance for pool record ${known.id} (${known.state})` : p.tainted ? `not adoptable: ${p.tainted}` : !purpose ? `unknown purpose "${p.purpose ?? ""}"` : !room ? "no room in the pool" : `provider state ${p.state}`;
    await ctx.provider.terminate([
      { id: p.instanceId ?? p.providerId, providerId: p.providerId, purpose: p.purpose ?? "", ownerId: null, availabilityZone: p.availabilityZone, instanceType: p.instanceType, market: p.market, details: {} },
    ]);
    await recordEvent(ctx.db, { at: now, instanceId: p.instanceId ?? null, userId: null, purpose: p.purpose, kind: "orphan-terminated", reason: why, actor: "reconciler", details: { providerId: p.providerId } });
    ctx.metrics.fixes.inc({ kind: "orphan-terminated" });
    ctx.log.warn({ event: "reconcile-fix", fix: "orphan-terminated", providerId: p.providerId, reason: why }, "unknown pool instance terminated");
    report.orphansTerminated++;
  }
  return report;
}

/** One instance's fix: a failure is logged and never stops the fixes of the others. */
async function each(ctx: PoolContext, instanceId: string, fix: () => Promise<void>): Promise<void> {
  try {
    await fix();
  } catch (err) {
    ctx.log.error({ event: "reconcile-fix-failed", instanceId, err: (err as Error).message }, "could not fix an instance; will retry");
  }
}

export const reconcileStep: LifecycleStep = {
  name: "reconcile",
  due: (t) => t.forceReconcile || t.ctx.clock.now() - t.memory.lastReconcile >= t.ctx.config.reconcileMs,
  async run(t) {
    const r = await reconcile(t.ctx, (id) => t.launcher.isInFlight(id));
    t.memory.lastReconcile = t.ctx.clock.now();
    if (r.lost + r.interrupted + r.recovered + r.adopted + r.orphansTerminated + r.resurfaced > 0) return { everything: true };
  },
};
