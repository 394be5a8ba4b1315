/**
 * Runs a refresh every `intervalMs` while the view is visible, never two at once. A refresh
 * asked for while one is in flight runs once more right after it (so the result reflects what
 * happened after the request, e.g. a release); hidden views are not polled at all.
 */
import type { Clock, Disposable } from "./emitter";

export class Poller implements Disposable {
  private visible = false;
  private inFlight: Promise<void> | null = null;
  private again = false;
  private timer: unknown = null;
  private disposed = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly intervalMs: () => number,
    private readonly clock: Clock,
  ) {}

  /** Starts polling (with one refresh now) when the view shows; stops when it hides. */
  setVisible(visible: boolean): void {
    if (this.visible === visible) return;
    this.visible = visible;
    if (visible) void this.refresh();
    else this.cancelTimer();
  }

  /** Refreshes now (also while hidden: a command asked for it). */
  refresh(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.cancelTimer();
    this.inFlight = (async () => {
      try {
        do {
          this.again = false;
          // The task reports its own errors; a failed refresh must not stop polling.
          await this.task().catch(() => undefined);
        } while (this.again && !this.disposed);
      } finally {
        this.inFlight = null;
        this.schedule();
      }
    })();
    return this.inFlight;
  }

  get running(): boolean {
    return this.inFlight !== null;
  }

  private schedule(): void {
    if (!this.visible || this.disposed) return;
    this.cancelTimer();
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      void this.refresh();
    }, this.intervalMs());
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  dispose(): void {
    this.disposed = true;
    this.cancelTimer();
  }
}
