/**
 * The observation loop: beside the lifecycle tick, it asks the provider round after round for
 * what it learned of the pool's live instances (interruption warnings, rebalance
 * recommendations, state changes) and applies each (interruptions.ts). A round may long-poll a
 * queue, so it never runs inside a tick; it runs only on the replica holding the lifecycle
 * lease, so several replicas do not all read the instances' notices.
 */
import { sleepUnlessAborted } from "../sleep";
import { listInStates } from "../store/instances";
import type { PoolContext } from "./context";
import { applyObservation } from "./interruptions";
import { toRef } from "./refs";

export interface ObservationLoopDeps {
  /** Whether this replica holds the lifecycle lease now. */
  holdsLease(): boolean;
  /** Asks the lifecycle loop for a tick (after a change it should act on). */
  kick(): void;
}

export class ObservationLoop {
  private abort: AbortController | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly ctx: PoolContext,
    private readonly deps: ObservationLoopDeps,
    private readonly idleMs = 2000,
  ) {}

  start(): void {
    if (!this.ctx.provider.observe || this.running) return;
    this.abort = new AbortController();
    this.running = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.running;
    this.running = null;
  }

  /** One round (tests drive it directly). */
  async round(signal: AbortSignal = new AbortController().signal): Promise<void> {
    const observe = this.ctx.provider.observe;
    if (!observe) return;
    const refs = async () => (await listInStates(this.ctx.db, ["booting", "running", "interrupting"])).filter((i) => i.providerId).map(toRef);
    await observe.call(this.ctx.provider, refs, async (o) => {
      const outcome = await applyObservation(this.ctx, o);
      if (outcome.action !== "none") this.deps.kick();
    }, signal);
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const started = Date.now();
        if (this.deps.holdsLease()) await this.round(signal);
        // A provider whose round does not wait (or that had nothing to wait on) must not spin.
        if (Date.now() - started < 100) await sleepUnlessAborted(this.idleMs, signal);
      } catch (err) {
        this.ctx.log.error({ event: "observe-failed", err: (err as Error).message }, "observing the provider's instances failed; retrying");
        await sleepUnlessAborted(5000, signal);
      }
    }
  }
}
