/**
 * Reconciler: compares the provider's list of this pool's instances with the database and
 * fixes each difference, logging every fix. Instances that vanished are lost (or interrupted,
 * when the provider took them back); a launch that completed before a crash gets its provider
 * id back; unknown instances with the pool's tag are adopted as warm spares when there is room
 * for them, and terminated otherwise.
 */
import { recordEvent } from "../../store/events";
import { countLive, insertInstance, listByIds, listLiveSummaries, LIVE_STATES, updateInstance, type InstanceSummary } from "../../store/instances";
import type { ProviderInstance } from "../../providers/types";
import { newInstanceId } from "../ids";
import type { PoolContext } from "../context";

/** A provider may not list an instance right after launching it (EC2 is eventually consistent). */
const LIST_GRACE_MS = 120_000;

export interface ReconcileReport {
  lost: number;
  interrupted: number;
  recovered: number;
  adopted: number;
  orphansTerminated: number;
}

async function markGone(ctx: PoolContext, inst: InstanceSummary, p: ProviderInstance | undefined, report: ReconcileReport): Promise<void> {
  const now = ctx.clock.now();
  // When the provider saw it end (a crash may have come between its end and this): billing ends then.
  const endedAt = Math.min(p?.endedAt ?? now, now);
  if (inst.state === "releasing") {
    // We were terminating it anyway: it is simply done.
    const ok = await updateInstance(ctx.db, inst.id, { state: "terminated", endedAt, updatedAt: now }, { states: ["releasing"] });
    if (ok) await recordEvent(ctx.db, { at: endedAt, instanceId: inst.id, userId: inst.lastOwnerId, purpose: inst.purpose, kind: "terminated", reason: inst.stateReason, actor: "reconciler" });
    return;
  }
  const state = p?.interrupted ? "interrupted" : "lost";
  const reason = p?.stateReason ?? (p ? `provider state ${p.state}` : "no longer known to the provider");
  const ok = await updateInstance(
    ctx.db,
    inst.id,
    { state, stateReason: reason, ownerId: null, idleDeadline: null, endedAt, updatedAt: now },
    { states: ["booting", "running"] },
  );
  if (!ok) return;
  await recordEvent(ctx.db, { at: now, instanceId: inst.id, userId: inst.ownerId, purpose: inst.purpose, kind: state, reason, actor: "reconciler", details: { providerId: inst.providerId } });
  ctx.metrics.fixes.inc({ kind: state });
  ctx.log.warn({ event: "reconcile-fix", fix: state, instanceId: inst.id, providerId: inst.providerId, userId: inst.ownerId, reason }, `instance ${state}`);
  if (state === "interrupted") report.interrupted++;
  else report.lost++;
}

export async function reconcile(ctx: PoolContext, isLaunchInFlight: (id: string) => boolean): Promise<ReconcileReport> {
  const report: ReconcileReport = { lost: 0, interrupted: 0, recovered: 0, adopted: 0, orphansTerminated: 0 };
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
    if (!(LIVE_STATES as string[]).includes(inst.state)) continue;
    if (!inst.providerId) {
      // A launch that reached the provider but not the database (crash in between).
      const p = byInstanceId.get(inst.id);
      if (p && !isLaunchInFlight(inst.id)) {
        const state = inst.state === "launching" ? "booting" : inst.state;
        await updateInstance(ctx.db, inst.id, { providerId: p.providerId, state, instanceType: p.instanceType, market: p.market, availabilityZone: p.availabilityZone, updatedAt: now });
        await recordEvent(ctx.db, { at: Math.min(p.launchedAt ?? now, now), instanceId: inst.id, userId: inst.ownerId, purpose: inst.purpose, kind: "launched", reason: "recovered by reconciler", actor: "reconciler", details: { providerId: p.providerId } });
        ctx.log.info({ event: "reconcile-fix", fix: "recovered-launch", instanceId: inst.id, providerId: p.providerId }, "launch recovered");
        report.recovered++;
      }
      continue;
    }
    const p = byProviderId.get(inst.providerId);
    const gone = !p || p.state === "terminated";
    if (!gone) continue;
    if (!p && now - inst.launchedAt < LIST_GRACE_MS && inst.state !== "running") continue;
    await markGone(ctx, inst, p, report);
  }

  for (const p of listed) {
    if (p.state === "terminated") continue;
    if (rowsByProviderId.has(p.providerId)) continue;
    const known = p.instanceId ? rowsById.get(p.instanceId) : undefined;
    if (known && (LIVE_STATES as string[]).includes(known.state)) continue; // recovered above
    const purpose = p.purpose ? ctx.config.purposes.find((x) => x.name === p.purpose) : undefined;
    const room =
      purpose !== undefined &&
      (await countLive(ctx.db, purpose.name)) < purpose.max &&
      (await countLive(ctx.db)) < ctx.config.maxInstances;
    if (!known && purpose && room && p.state === "running") {
      const id = p.instanceId ?? newInstanceId();
      await insertInstance(ctx.db, {
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
        launchAttempts: 1,
        nextAttemptAt: now,
        launchedAt: p.launchedAt ?? now,
        runningAt: p.ready ? now : null,
        assignedAt: null,
        idleDeadline: null,
        endedAt: null,
        updatedAt: now,
      });
      await recordEvent(ctx.db, { at: now, instanceId: id, userId: null, purpose: purpose.name, kind: "adopted", reason: "unknown instance with the pool tag", actor: "reconciler", details: { providerId: p.providerId } });
      ctx.metrics.fixes.inc({ kind: "adopted" });
      ctx.log.warn({ event: "reconcile-fix", fix: "adopted", instanceId: id, providerId: p.providerId, purpose: purpose.name }, "unknown pool instance adopted as a warm spare");
      report.adopted++;
      continue;
    }
    const why = known ? `its pool record is ${known.state}` : !purpose ? `unknown purpose "${p.purpose ?? ""}"` : !room ? "no room in the pool" : `provider state ${p.state}`;
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
