/**
 * The adaptive warm pool's forecast, pure and deterministic: from the times of past claims of
 * one purpose, how many free instances to keep ready now.
 *
 * Model. Claims arrive as a Poisson process whose rate depends on the hour of the week. An
 * instance taken from the warm pool is replaced at once, and the replacement is ready one boot
 * time B later, so the ready stock must cover the claims arriving within B: N ~ Poisson(L) with
 * L = rate * B. Keeping k ready serves them all with probability P(N <= k); we keep the
 * smallest k with P(N <= k) >= serviceLevel (k = 0 when nobody is expected: scale to zero).
 *
 * Rate of an hour H (claims per hour): an exponentially weighted mean of the same hour of the
 * week over the past weeks that were observed (weight decay^(k-1) for k weeks back); before a
 * week of history exists, the same hour of past days of the same kind (weekday/weekend, UTC);
 * and never less than the rate actually seen in the last `recentMs` (a reactive floor for
 * surprises and for the first days).
 *
 * Lead and hysteresis. Instances must be launched B before they are needed, so the rate used
 * is the highest over the hours overlapping [now - holdMs, now + 2B]: the pool grows ahead of
 * the morning ramp and only shrinks once a busy hour has been quiet for `holdMs` (no churn of
 * terminating instances that would be launched again minutes later).
 */

const HOUR_MS = 3_600_000;
const HOURS_PER_WEEK = 168;

export interface ForecastParams {
  /** Probability that every claim in one boot time finds a ready instance (config pool.serviceLevel). */
  serviceLevel: number;
  /** Time from launch until an instance is ready. */
  bootMs: number;
  weeksBack: number;
  /** Weight of each older week relative to the next newer one. */
  weekDecay: number;
  /** Keep the peak target this long after the demand that caused it. */
  holdMs: number;
  /** Window of the reactive floor. */
  recentMs: number;
}

export const DEFAULT_FORECAST: Omit<ForecastParams, "serviceLevel" | "bootMs"> = {
  weeksBack: 4,
  weekDecay: 0.5,
  holdMs: 30 * 60_000,
  recentMs: 60 * 60_000,
};

/** Claim times of one purpose, counted per absolute UTC hour, plus the recent raw times. */
export class ClaimHistory {
  private readonly perHour = new Map<number, number>();
  private readonly recent: number[] = [];

  /** `since`: when the history starts (hours before it are unknown, not zero). */
  constructor(readonly since: number) {}

  add(at: number): void {
    const h = Math.floor(at / HOUR_MS);
    this.perHour.set(h, (this.perHour.get(h) ?? 0) + 1);
    this.recent.push(at);
    if (this.recent.length > 1 && this.recent[this.recent.length - 2]! > at) this.recent.sort((a, b) => a - b);
  }

  /** Forgets raw times before `before` (hour counts stay). */
  prune(before: number): void {
    let n = 0;
    while (n < this.recent.length && this.recent[n]! < before) n++;
    if (n) this.recent.splice(0, n);
  }

  hourCount(hour: number): number {
    return this.perHour.get(hour) ?? 0;
  }

  countBetween(from: number, to: number): number {
    let n = 0;
    for (let i = this.recent.length - 1; i >= 0 && this.recent[i]! >= from; i--) if (this.recent[i]! < to) n++;
    return n;
  }
}

const isWeekend = (hour: number) => {
  const day = new Date(hour * HOUR_MS).getUTCDay();
  return day === 0 || day === 6;
};

/** Expected claims in absolute hour `hour`, from hours fully observed before `now`. */
export function hourRate(history: ClaimHistory, hour: number, now: number, p: Pick<ForecastParams, "weeksBack" | "weekDecay">): number {
  const first = Math.ceil(history.since / HOUR_MS);
  const current = Math.floor(now / HOUR_MS);
  const observed = (h: number) => h >= first && h < current;
  const weighted = (candidates: number[]) => {
    let sum = 0;
    let weights = 0;
    let w = 1;
    for (const h of candidates) {
      if (observed(h)) {
        sum += w * history.hourCount(h);
        weights += w;
      }
      w *= p.weekDecay;
    }
    return weights > 0 ? sum / weights : null;
  };
  const weekly = weighted(Array.from({ length: p.weeksBack }, (_, k) => hour - HOURS_PER_WEEK * (k + 1)));
  if (weekly !== null) return weekly;
  const sameKind = Array.from({ length: 6 }, (_, d) => hour - 24 * (d + 1)).filter((h) => isWeekend(h) === isWeekend(hour));
  return weighted(sameKind) ?? 0;
}

/** Smallest k with P(Poisson(mean) <= k) >= level. */
export function poissonQuantile(mean: number, level: number): number {
  if (mean <= 0) return 0;
  let term = Math.exp(-mean);
  let cdf = term;
  let k = 0;
  while (cdf < level && k < 10_000) {
    k++;
    term *= mean / k;
    cdf += term;
  }
  return k;
}

export interface WarmForecast {
  /** Claims per hour used (the highest over the look-ahead and hold window, or the recent rate). */
  rate: number;
  /** Expected claims during one boot time. */
  expected: number;
  target: number;
}

export function forecastWarmTarget(history: ClaimHistory, now: number, p: ForecastParams): WarmForecast {
  const fromHour = Math.floor((now - p.holdMs) / HOUR_MS);
  const toHour = Math.floor((now + 2 * p.bootMs) / HOUR_MS);
  let rate = (history.countBetween(now - p.recentMs, now + 1) * HOUR_MS) / p.recentMs;
  for (let h = fromHour; h <= toHour; h++) rate = Math.max(rate, hourRate(history, h, now, p));
  const expected = (rate * p.bootMs) / HOUR_MS;
  return { rate, expected, target: poissonQuantile(expected, p.serviceLevel) };
}
