/**
 * The jobs loop: beside the lifecycle tick, on the replica holding the lifecycle lease only
 * (like the observation loop), one round at a time: the keep-alive holds, the jobs that hold
 * capacity (watch.ts), then the queue (schedule.ts), and now and then the sweep of old local
 * logs (log-sweep.ts). Everything it acts on is read from the database each round, so a
 * restarted backend carries on where the last one was.
 */
import { sleepUnlessAborted } from "../sleep";
import type { JobsContext } from "./context";
import { watchHolds } from "./keep-alive";
import { LogSweeper } from "./log-sweep";
import { startQueued } from "./schedule";
import { watchJobs } from "./watch";

export interface JobsLoopDeps {
  holdsLease(): boolean;
}

export class JobsLoop {
  private abort: AbortController | null = null;
  private running: Promise<void> | null = null;
  private current: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Tests call its maybeSweep() (or sweepJobLogs) directly. */
  readonly sweeper: LogSweeper;

  constructor(
    private readonly ctx: JobsContext,
    private readonly deps: JobsLoopDeps,
    private readonly periodMs = 1000,
  ) {
    this.sweeper = new LogSweeper(ctx);
  }

  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    this.wake?.();
    await this.running;
    this.running = null;
  }

  /** Asks for a round soon (after a submit). */
  kick(): void {
    this.wake?.();
  }

  /** One round (tests drive it directly); never two at once. */
  async round(): Promise<void> {
    while (this.current) await this.current;
    this.current = (async () => {
      await watchHolds(this.ctx);
      await watchJobs(this.ctx);
      // Placed jobs are started in the same round when their instance is already running (a warm spare).
      if ((await startQueued(this.ctx)) > 0) await watchJobs(this.ctx);
      await this.sweeper.maybeSweep();
    })().finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        if (this.deps.holdsLease()) await this.round();
      } catch (err) {
        this.ctx.log.error({ event: "jobs-round-failed", err: (err as Error).message }, "jobs round failed; retrying");
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        void sleepUnlessAborted(this.periodMs, signal).then(resolve);
      });
      this.wake = null;
    }
  }
}
