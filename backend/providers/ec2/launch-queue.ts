/**
 * The one queue every RunInstances call goes through. EC2 throttles RunInstances per account
 * and region with a token bucket (a burst of 5, refilled at 2 per second); this queue keeps
 * inside the same budget so a morning rush of claims is served first come, first served instead
 * of failing. A call that is throttled anyway (other clients share the budget) empties the
 * bucket, waits with exponential backoff and goes back to the head of the queue.
 */
import { PoolError } from "../../errors";
import { awsErrorCode, THROTTLING_CODES } from "./aws-errors";

export interface QueueClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: QueueClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** EC2's published RunInstances budget (per account and region). */
export const EC2_RUN_INSTANCES_BUDGET = { burst: 5, refillPerSecond: 2 } as const;
/** What the queue allows itself: one token of the burst in reserve, 90% of the refill rate. */
export const QUEUE_DEFAULTS = { burst: EC2_RUN_INSTANCES_BUDGET.burst - 1, refillPerSecond: EC2_RUN_INSTANCES_BUDGET.refillPerSecond * 0.9 } as const;

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.refillPerSecond);
    this.last = t;
  }

  /** Takes a token and returns 0, or returns how many ms until one is there. */
  take(): number {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.refillPerSecond) * 1000);
  }

  /** After a throttle: AWS's bucket is empty, so ours is too. */
  drain(): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0);
  }
}

export interface LaunchQueueOptions {
  burst?: number;
  refillPerSecond?: number;
  /** Retries of one call after RequestLimitExceeded before giving up with PROVIDER_THROTTLED. */
  maxThrottleRetries?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  clock?: QueueClock;
}

export class LaunchQueue {
  readonly bucket: TokenBucket;
  private readonly waiters: Array<() => void> = [];
  private pumping = false;
  private readonly clock: QueueClock;
  private readonly maxRetries: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  /** Counters for tests and metrics. */
  readonly stats = { calls: 0, throttled: 0 };

  constructor(options: LaunchQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.bucket = new TokenBucket(options.burst ?? QUEUE_DEFAULTS.burst, options.refillPerSecond ?? QUEUE_DEFAULTS.refillPerSecond, () => this.clock.now());
    this.maxRetries = options.maxThrottleRetries ?? 8;
    this.baseBackoffMs = options.baseBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 20_000;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  backoffMs(retry: number): number {
    return Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.max(0, retry - 1));
  }

  /** Runs `call` when the budget allows, in arrival order; retries it when AWS throttles. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    for (let retry = 0; ; retry++) {
      await this.acquire(retry > 0);
      this.stats.calls++;
      try {
        return await call();
      } catch (err) {
        const code = awsErrorCode(err);
        if (!code || !THROTTLING_CODES.has(code)) throw err;
        this.stats.throttled++;
        this.bucket.drain();
        if (retry >= this.maxRetries) {
          throw new PoolError("PROVIDER_THROTTLED", `AWS kept throttling RunInstances (${code}) after ${retry + 1} tries; the pool retries later.`, { awsCode: code });
        }
        await this.clock.sleep(this.backoffMs(retry + 1));
      }
    }
  }

  private acquire(first: boolean): Promise<void> {
    return new Promise((resolve) => {
      if (first) this.waiters.unshift(resolve);
      else this.waiters.push(resolve);
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waiters.length > 0) {
        const wait = this.bucket.take();
        if (wait > 0) {
          await this.clock.sleep(wait);
          continue;
        }
        this.waiters.shift()!();
      }
    } finally {
      this.pumping = false;
    }
  }
}
