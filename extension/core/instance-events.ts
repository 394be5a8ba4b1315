/**
 * Turns successive instance lists into the notifications worth showing: an instance was
 * interrupted (the provider took it back), reaped or otherwise ended without the user asking,
 * or is about to be reaped as idle. Each is announced once.
 */
import type { InstanceView } from "../../contract";
import { isEnded } from "./instance-tree-model";

export type InstanceEvent =
  | { kind: "interrupted"; instance: InstanceView }
  | { kind: "ended"; instance: InstanceView }
  | { kind: "idleSoon"; instance: InstanceView; msLeft: number };

/** Warn this long before the idle reaper's deadline. */
export const IDLE_WARNING_MS = 5 * 60_000;

export class InstanceWatcher {
  private readonly known = new Map<string, InstanceView["state"]>();
  private readonly warnedDeadline = new Map<string, string>();
  private readonly releasedByUser = new Set<string>();

  constructor(private readonly warnMs = IDLE_WARNING_MS) {}

  /** The user released it: its ending is no news. */
  expectEnd(instanceId: string): void {
    this.releasedByUser.add(instanceId);
  }

  update(instances: readonly InstanceView[], now: number): InstanceEvent[] {
    const events: InstanceEvent[] = [];
    for (const i of instances) {
      const before = this.known.get(i.instanceId);
      this.known.set(i.instanceId, i.state);
      const wasLive = before !== undefined && !isEnded({ state: before });
      if (wasLive && isEnded(i) && !this.releasedByUser.has(i.instanceId)) {
        events.push(i.state === "interrupted" ? { kind: "interrupted", instance: i } : { kind: "ended", instance: i });
      }
      if (i.state === "running" && i.idleDeadline) {
        const left = Date.parse(i.idleDeadline) - now;
        if (left > 0 && left <= this.warnMs && this.warnedDeadline.get(i.instanceId) !== i.idleDeadline) {
          this.warnedDeadline.set(i.instanceId, i.idleDeadline);
          events.push({ kind: "idleSoon", instance: i, msLeft: left });
        }
      }
    }
    const present = new Set(instances.map((i) => i.instanceId));
    for (const id of [...this.known.keys()]) {
      if (!present.has(id)) {
        this.known.delete(id);
        this.warnedDeadline.delete(id);
        this.releasedByUser.delete(id);
      }
    }
    return events;
  }
}
