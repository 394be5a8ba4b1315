/**
 * Follows one job's log by polling GET /v1/jobs/:id/log?offset=N from the last nextOffset the
 * backend gave, until a chunk says complete. Polling (not the streamed ?follow=1) rides out a
 * backend restart and works for runners whose offsets are not byte counts. It waits longer while
 * nothing comes, never has two reads in flight, retries failures with backoff (telling the
 * owner once per streak), and stops for good on an error a retry cannot fix (signed out, no
 * such job). dispose() stops it at once.
 */
import type { JobLogChunk } from "../../../contract/jobs";
import { sleep, type Clock, type Disposable } from "../emitter";
import { describeFailure, ExtensionError, isCancel, type Failure } from "../errors";

export interface LogFollowerOptions {
  read: (offset: number, signal: AbortSignal) => Promise<JobLogChunk>;
  onText: (text: string) => void;
  /** The log is complete: the job has ended. */
  onComplete: () => void;
  /** A read failed (the first of a streak), or the follower stopped for good (`final`). */
  onError?: (f: Failure, final: boolean) => void;
  clock: Clock;
  offset?: number;
  /** Waits after a read that brought nothing, growing to the last. */
  idleStepsMs?: readonly number[];
  /** Waits after failed reads, growing to the last. */
  retryStepsMs?: readonly number[];
}

const IDLE_STEPS = [500, 1000, 2000, 3000] as const;
const RETRY_STEPS = [2000, 5000, 10_000, 30_000] as const;
/** A retry cannot fix these (JOB_LOG_EXPIRED: the backend removed an old log; it will not come back). */
const FINAL_CODES = new Set(["NOT_SIGNED_IN", "UNAUTHORIZED", "JOB_NOT_FOUND", "JOB_LOG_EXPIRED", "FORBIDDEN", "NOT_FOUND"]);

export type FollowerState = "idle" | "following" | "complete" | "stopped";

export class LogFollower implements Disposable {
  private abort = new AbortController();
  private offsetNow: number;
  private stateNow: FollowerState = "idle";

  constructor(private readonly o: LogFollowerOptions) {
    this.offsetNow = o.offset ?? 0;
  }

  get state(): FollowerState {
    return this.stateNow;
  }
  get offset(): number {
    return this.offsetNow;
  }
  get done(): boolean {
    return this.stateNow === "complete" || this.stateNow === "stopped";
  }

  start(): void {
    if (this.stateNow !== "idle") return;
    this.stateNow = "following";
    void this.loop();
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    const idleSteps = this.o.idleStepsMs ?? IDLE_STEPS;
    const retrySteps = this.o.retryStepsMs ?? RETRY_STEPS;
    let idle = 0;
    let failures = 0;
    while (!signal.aborted) {
      let wait: number;
      try {
        const chunk = await this.o.read(this.offsetNow, signal);
        if (signal.aborted) return;
        failures = 0;
        if (chunk.text) this.o.onText(chunk.text);
        this.offsetNow = chunk.nextOffset;
        if (chunk.complete) {
          this.stateNow = "complete";
          this.o.onComplete();
          return;
        }
        idle = chunk.text ? 0 : idle + 1;
        wait = idleSteps[Math.min(idle, idleSteps.length - 1)]!;
      } catch (err) {
        if (signal.aborted || isCancel(err)) return;
        const f = describeFailure("read", "the job's log", err);
        if (err instanceof ExtensionError && FINAL_CODES.has(err.code)) {
          this.stateNow = "stopped";
          this.o.onError?.(f, true);
          return;
        }
        if (failures === 0) this.o.onError?.(f, false);
        wait = retrySteps[Math.min(failures, retrySteps.length - 1)]!;
        failures++;
      }
      try {
        await sleep(this.o.clock, wait, signal);
      } catch {
        return; // disposed while waiting
      }
    }
  }

  dispose(): void {
    if (!this.done) this.stateNow = "stopped";
    this.abort.abort();
  }
}
