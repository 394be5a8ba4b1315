/**
 * Boot step: asks the provider about `booting` instances; an instance whose service answers
 * becomes `running`, one that died while booting is lost, and one that takes longer than the
 * purpose's boot timeout is given up and terminated.
 */
import { listBooting } from "../../store/instances";
import { configuredPurpose, type PoolContext } from "../context";
import { transition } from "../transitions";
import { forEachInstance, type LifecycleStep } from "./step";

export interface BootProgress {
  /** Became running while assigned: their hand-over may be pending. */
  runningAssigned: number;
  /** Became running while free. */
  runningFree: number;
  /** Lost while booting (one spare fewer if it was free). */
  lost: number;
  /** Gave up after the boot timeout: they are releasing now. */
  timedOut: number;
}

/** Moves booting instances on, and says what changed. */
export async function watchBooting(ctx: PoolContext): Promise<BootProgress> {
  const progress: BootProgress = { runningAssigned: 0, runningFree: 0, lost: 0, timedOut: 0 };
  const booting = (await listBooting(ctx.db)).filter((i) => i.providerId);
  if (booting.length === 0) return progress;
  const seen = new Map((await ctx.provider.describe(booting.map((i) => i.providerId!))).map((p) => [p.providerId, p]));
  await forEachInstance(ctx, "boot", booting, async (inst) => {
    const now = ctx.clock.now();
    const p = seen.get(inst.providerId!);
    if (p?.ready && p.state === "running") {
      const ok = await transition(ctx, inst.id, {
        from: "booting",
        to: "running",
        patch: {
          runningAt: now,
          // What the provider does not say stays as recorded (an undefined field is not written).
          privateDns: p.privateDnsName ?? undefined,
          availabilityZone: p.availabilityZone ?? undefined,
          stateReason: null,
          updatedAt: now,
        },
        event: { userId: inst.ownerId, purpose: inst.purpose, kind: "running", actor: "lifecycle", details: { bootMs: now - inst.launchedAt } },
        log: { msg: "instance running", fields: { bootMs: now - inst.launchedAt } },
      });
      if (ok) {
        if (inst.ownerId) progress.runningAssigned++;
        else progress.runningFree++;
      }
      return;
    }
    if (p && (p.state === "terminated" || p.state === "stopped" || p.state === "stopping")) {
      const state = p.interrupted ? "interrupted" : "lost";
      const reason = p.stateReason ?? "ended while booting";
      const ok = await transition(ctx, inst.id, {
        from: "booting",
        to: state,
        patch: { stateReason: reason, ownerId: null, idleDeadline: null, endedAt: now, updatedAt: now },
        event: { userId: inst.ownerId, purpose: inst.purpose, kind: state, reason, actor: "lifecycle" },
        log: { level: "warn", msg: "instance ended while booting", fields: { reason: p.stateReason } },
      });
      if (ok) {
        progress.lost++;
        ctx.metrics.fixes.inc({ kind: state });
      }
      return;
    }
    const purpose = configuredPurpose(ctx, inst.purpose);
    if (!purpose) return; // the retire step releases it
    if (now - inst.launchedAt > purpose.bootTimeoutSeconds * 1000) {
      const ok = await transition(ctx, inst.id, {
        from: "booting",
        to: "releasing",
        patch: { stateReason: "boot-timeout", ownerId: null, idleDeadline: null, updatedAt: now },
        event: { userId: inst.ownerId, purpose: inst.purpose, kind: "boot-timeout", reason: `not ready after ${purpose.bootTimeoutSeconds}s`, actor: "lifecycle" },
        log: { level: "warn", msg: "instance did not become ready in time" },
      });
      if (ok) progress.timedOut++;
    }
  });
  return progress;
}

export const bootStep: LifecycleStep = {
  name: "boot",
  due: (t) => t.plan.boot,
  async run(t) {
    const p = await watchBooting(t.ctx);
    // Claimed while booting: the hand-over may be pending. Lost or given up: maybe one spare
    // fewer, and one to terminate.
    return {
      due: [...(p.runningAssigned ? (["assign"] as const) : []), ...(p.timedOut ? (["terminate"] as const) : [])],
      recount: p.lost > 0 || p.timedOut > 0,
    };
  },
};
