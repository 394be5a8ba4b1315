/**
 * Turns successive instance lists into the notifications worth showing: the provider warned it
 * takes an instance back (a replacement is starting) and later the replacement is ready; an
 * instance was interrupted (the provider took it back), reaped or otherwise ended without the
 * user asking, or is about to be reaped as idle. Each is announced once.
 */
import type { InstanceView } from "../../contract";
import { isEnded } from "./instance-tree-model";

export type InstanceEvent =
  | { kind: "interrupting"; instance: InstanceView }
  | { kind: "replaced"; from: InstanceView; to: InstanceView }
  | { kind: "replacementFailed"; from: InstanceView; to: InstanceView | null }
  | { kind: "interrupted"; instance: InstanceView }
  | { kind: "ended"; instance: InstanceView }
  | { kind: "idleSoon"; instance: InstanceView; msLeft: number }
  | { kind: "rebalance"; instance: InstanceView };

/** The stateReason the backend sets on a running instance the provider recommends leaving. */
export const REBALANCE_REASON = "rebalance-recommended";

/**
 * The stateReason of an instance released because the batch job it ran ended. A job's instance
 * (jobId set, or this reason) ending is no instance news: the job's own notification tells it.
 */
export const JOB_ENDED_REASON = "job-ended";

/** Warn this long before the idle reaper's deadline. */
export const IDLE_WARNING_MS = 5 * 60_000;

export class InstanceWatcher {
  private readonly known = new Map<string, InstanceView["state"]>();
  private readonly warnedDeadline = new Map<string, string>();
  private readonly warnedRebalance = new Set<string>();
  private readonly releasedByUser = new Set<string>();
  /** Interrupted instances whose replacement is awaited, by the interrupted one's id. */
  private readonly awaiting = new Map<string, { from: InstanceView; toId: string }>();
  /** Interrupted instances already announced (they stay listed, ended, for a day). */
  private readonly announced = new Set<string>();

  constructor(private readonly warnMs = IDLE_WARNING_MS) {}

  /** The user released it: its ending is no news. */
  expectEnd(instanceId: string): void {
    this.releasedByUser.add(instanceId);
  }

  private isAwaitedReplacement(id: string): boolean {
    for (const a of this.awaiting.values()) if (a.toId === id) return true;
    return false;
  }

  update(instances: readonly InstanceView[], now: number): InstanceEvent[] {
    const events: InstanceEvent[] = [];
    const byId = new Map(instances.map((i) => [i.instanceId, i]));
    for (const i of instances) {
      const before = this.known.get(i.instanceId);
      this.known.set(i.instanceId, i.state);
      // The backend keeps an instance `interrupting` only until its home is off (a tick or a few
      // seconds), so a poll often sees it already released or ended: an instance the user held
      // that now names a replacement is the same news, seen late.
      const heldBefore = before !== undefined && !isEnded({ state: before });
      if (i.replacementId && (i.state === "interrupting" || heldBefore) && !this.announced.has(i.instanceId) && !this.awaiting.has(i.instanceId)) {
        this.announced.add(i.instanceId);
        this.awaiting.set(i.instanceId, { from: i, toId: i.replacementId });
        events.push({ kind: "interrupting", instance: i });
        continue;
      }
      // An instance with a replacement is not news when it ends: its replacement is. Nor is an
      // awaited replacement's own end: that is announced as the replacement failing, below.
      if (i.replacementId || this.isAwaitedReplacement(i.instanceId)) continue;
      const wasLive = before !== undefined && !isEnded({ state: before });
      if (wasLive && isEnded(i) && !this.releasedByUser.has(i.instanceId) && !i.jobId && i.stateReason !== JOB_ENDED_REASON) {
        events.push(i.state === "interrupted" ? { kind: "interrupted", instance: i } : { kind: "ended", instance: i });
      }
      if (i.state === "running" && i.stateReason === REBALANCE_REASON && !this.warnedRebalance.has(i.instanceId)) {
        this.warnedRebalance.add(i.instanceId);
        events.push({ kind: "rebalance", instance: i });
      }
      if (i.state === "running" && i.idleDeadline) {
        const left = Date.parse(i.idleDeadline) - now;
        if (left > 0 && left <= this.warnMs && this.warnedDeadline.get(i.instanceId) !== i.idleDeadline) {
          this.warnedDeadline.set(i.instanceId, i.idleDeadline);
          events.push({ kind: "idleSoon", instance: i, msLeft: left });
        }
      }
    }
    for (const [fromId, { from, toId }] of [...this.awaiting]) {
      const to = byId.get(toId) ?? null;
      if (to?.state === "running") {
        this.awaiting.delete(fromId);
        events.push({ kind: "replaced", from, to });
      } else if (to ? isEnded(to) : isEnded(byId.get(fromId) ?? from)) {
        // The replacement failed, or never showed and the old instance is gone already.
        this.awaiting.delete(fromId);
        events.push({ kind: "replacementFailed", from, to });
      }
    }
    const present = new Set(instances.map((i) => i.instanceId));
    for (const id of [...this.known.keys()]) {
      if (!present.has(id)) {
        this.known.delete(id);
        this.warnedDeadline.delete(id);
        this.warnedRebalance.delete(id);
        this.releasedByUser.delete(id);
        this.announced.delete(id);
      }
    }
    return events;
  }
}
