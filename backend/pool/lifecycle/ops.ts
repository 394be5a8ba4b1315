/**
 * Long provider operations, run beside the tick rather than inside it: a busy check or an
 * unmount waits on a command on the instance (minutes, when its agent is slow), and inside the
 * tick it held up every other instance's steps and the launches claims wait for.
 *
 * The database records what is due (an instance `releasing`, an idle deadline passed), so a
 * restart resumes every operation by starting it again: provider calls are safe to repeat.
 * This class only keeps one process from running the same operation twice at once, and lets
 * the tick wait a short while so that fast operations finish within it, as before.
 */
import type { Logger } from "pino";

export class BackgroundOps {
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly log: Logger,
    /** Called when an operation ends, so the loop ticks again for its follow-ups. */
    private readonly onDone: () => void = () => undefined,
  ) {}

  isRunning(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** Starts `work` under `key` unless it is running already; returns it, or null when it was running. */
  start(key: string, work: () => Promise<void>): Promise<void> | null {
    if (this.inFlight.has(key)) return null;
    const p = work()
      .catch((err: unknown) => {
        this.log.error({ event: "provider-op-failed", op: key, err: (err as Error).message }, "provider operation failed; will retry");
      })
      .finally(() => {
        this.inFlight.delete(key);
        this.onDone();
      });
    this.inFlight.set(key, p);
    return p;
  }

  /** Waits for every running operation (shutdown), at most `ms`; true when none is left. */
  settle(ms: number): Promise<boolean> {
    return waitUpTo([...this.inFlight.values()], ms);
  }

  /** The keys of the operations running now. */
  keys(): string[] {
    return [...this.inFlight.keys()];
  }

  get size(): number {
    return this.inFlight.size;
  }
}

/** Waits for these operations, at most `ms`; true when all ended. The rest go on in the background. */
export async function waitUpTo(ops: ReadonlyArray<Promise<void> | null>, ms: number): Promise<boolean> {
  const pending = ops.filter((p): p is Promise<void> => p !== null);
  if (pending.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref?.();
  });
  const done = await Promise.race([Promise.allSettled(pending).then(() => true as const), timeout]);
  clearTimeout(timer);
  return done;
}
