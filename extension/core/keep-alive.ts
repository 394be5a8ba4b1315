/**
 * Keep-alive, honestly: an instance gets heartbeats only while its user really works with it,
 * i.e. its RStudio panel is visible and the VS Code window has focus, or traffic went through its
 * tunnel in the last few minutes, or its app reported work of its own (Jupyter: a busy kernel or
 * a new last_activity) in that time. When the user is away nothing is sent, so the backend's idle
 * reaper takes forgotten instances and they stop costing money.
 */
import type { HeartbeatResponse } from "../../contract";
import type { Clock, Disposable, Log } from "./emitter";
import { describeFailure, ExtensionError } from "./errors";

/** Traffic this recent counts as use (RStudio polls the server while a tab is open). */
export const TRAFFIC_WINDOW_MS = 3 * 60_000;

export class ActivityMonitor {
  private focused = true;
  private readonly visiblePanels = new Set<string>();
  private readonly lastTraffic = new Map<string, number>();
  private readonly lastAppWork = new Map<string, number>();

  constructor(
    private readonly clock: Pick<Clock, "now">,
    private readonly trafficWindowMs = TRAFFIC_WINDOW_MS,
  ) {}

  setWindowFocused(focused: boolean): void {
    this.focused = focused;
  }
  setPanelVisible(instanceId: string, visible: boolean): void {
    if (visible) this.visiblePanels.add(instanceId);
    else this.visiblePanels.delete(instanceId);
  }
  noteTraffic(instanceId: string): void {
    this.lastTraffic.set(instanceId, this.clock.now());
  }
  /** The instance's app said it worked (a busy Jupyter kernel): counts like traffic. */
  noteAppWork(instanceId: string): void {
    this.lastAppWork.set(instanceId, this.clock.now());
  }
  forget(instanceId: string): void {
    this.visiblePanels.delete(instanceId);
    this.lastTraffic.delete(instanceId);
    this.lastAppWork.delete(instanceId);
  }

  /** Why the instance counts as in use, or null when the user is away from it. */
  activeReason(instanceId: string): "panel" | "traffic" | "app" | null {
    if (this.focused && this.visiblePanels.has(instanceId)) return "panel";
    const t = this.lastTraffic.get(instanceId);
    if (t !== undefined && this.clock.now() - t < this.trafficWindowMs) return "traffic";
    const w = this.lastAppWork.get(instanceId);
    if (w !== undefined && this.clock.now() - w < this.trafficWindowMs) return "app";
    return null;
  }
}

export interface KeepAliveOptions {
  monitor: ActivityMonitor;
  heartbeat: (instanceId: string) => Promise<HeartbeatResponse>;
  /** Ids of my running instances now. */
  instances: () => readonly string[];
  intervalMs: () => number;
  clock: Clock;
  log: Log;
  /** A heartbeat moved the deadline (the tree shows it). */
  onDeadline?: (instanceId: string, idleDeadline: string) => void;
  /** The backend says the instance is gone (refresh the list). */
  onGone?: (instanceId: string) => void;
  /** Asks the instance's app whether it worked (Jupyter's activity); only for instances not in use otherwise. */
  probeAppWork?: (instanceId: string) => Promise<boolean>;
}

export class KeepAlive implements Disposable {
  private timer: unknown = null;
  private readonly inFlight = new Set<string>();
  private disposed = false;

  constructor(private readonly o: KeepAliveOptions) {}

  start(): void {
    this.schedule();
  }

  /** One round: a heartbeat for every instance in use, none for the others. */
  async tick(): Promise<void> {
    const probe = this.o.probeAppWork;
    if (probe) {
      const idle = this.o.instances().filter((id) => this.o.monitor.activeReason(id) === null);
      await Promise.all(
        idle.map(async (id) => {
          if (await probe(id).catch(() => false)) this.o.monitor.noteAppWork(id);
        }),
      );
    }
    const due = this.o.instances().filter((id) => !this.inFlight.has(id) && this.o.monitor.activeReason(id) !== null);
    await Promise.all(due.map((id) => this.beat(id)));
  }

  /** A heartbeat now, for "Keep it" on the idle warning (the user asked for it). */
  async beat(instanceId: string): Promise<void> {
    if (this.inFlight.has(instanceId)) return;
    this.inFlight.add(instanceId);
    try {
      const res = await this.o.heartbeat(instanceId);
      this.o.onDeadline?.(instanceId, res.idleDeadline);
    } catch (err) {
      if (err instanceof ExtensionError && (err.code === "INSTANCE_NOT_RUNNING" || err.code === "INSTANCE_NOT_FOUND")) this.o.onGone?.(instanceId);
      this.o.log.warn(describeFailure("send a heartbeat for", instanceId, err).message);
    } finally {
      this.inFlight.delete(instanceId);
    }
  }

  private schedule(): void {
    if (this.disposed) return;
    this.timer = this.o.clock.setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.o.intervalMs());
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
