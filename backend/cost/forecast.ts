/**
 * The adaptive warm pool's forecast, pure and deterministic: from the times of past claims of
 * one purpose, how many free instances to keep ready now.
 *
 * Model. Claims arrive as a Poisson process whose rate depends on the hour of the week. An
 * instance taken from the warm pool is replaced at once, and the replacement is ready one boot
 * time B later. A claim finds a ready instance when fewer than k claims came in the boot time
 * before it, so with k ready a share P(N <= k - 1) of claims is served warm, N ~ Poisson(L),
 * L = rate * B. We keep the smallest k whose share reaches the service level (the fill rate;
 * k = 0 only when nobody is expected: scale to zero).
 *
 * Rate of a quarter hour Q (in claims per hour): the largest of an exponentially weighted mean
 * of the same quarter hour of the week over the past weeks observed (weight decay^(k-1) for k
 * weeks back), the upper median of those weeks (one holiday week does not drag the next one
 * down), and the same weighted mean over the past days of the same kind (weekday/weekend,
 * UTC), which carries the first week and follows a change of habits sooner; and never less
 * than the rate actually seen in the last `recentMs` (a reactive floor for surprises).
 *
 * Lead and hysteresis. Instances must be launched B before they are needed, so every quarter
 * hour overlapping [now - holdMs, now + 2B] is planned for and the largest target wins: the
 * pool grows ahead of the morning ramp and only shrinks once a busy spell has been quiet for
 * `holdMs` (no churn of terminating instances that would be launched again minutes later).
 *
 * A quarter hour about which nothing is known yet (no past week or day of its kind observed:
 * the first day) gets one spare rather than none: unknown is not zero. A quarter hour in which
 * a claim is no likelier than the miss rate allowed gets none (anyClaimLikely).
 *
 * Calibration (calibration.ts) may scale the rate, raise the level per quarter hour, and keep
 * one spare where claims came that the forecast did not expect.
 */

const HOUR_MS = 3_600_000;
/** Demand is counted per quarter hour: an hour's mean hides the 9 o'clock and after-lunch bursts. */
export const BUCKET_MS = 15 * 60_000;
const PER_DAY = 86_400_000 / BUCKET_MS;
const PER_WEEK = 7 * PER_DAY;

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
  recentMs: 30 * 60_000,
};

/** Claim times of one purpose, counted per absolute quarter hour (UTC), plus the recent raw times. */
export class ClaimHistory {
  private readonly perBucket = new Map<number, number>();
  private readonly recent: number[] = [];

  /** `since`: when the history starts (hours before it are unknown, not zero). */
  constructor(readonly since: number) {}

  add(at: number): void {
    const h = Math.floor(at / BUCKET_MS);
    this.perBucket.set(h, (this.perBucket.get(h) ?? 0) + 1);
    this.recent.push(at);
    if (this.recent.length > 1 && this.recent[this.recent.length - 2]! > at) this.recent.sort((a, b) => a - b);
  }

  /** Forgets raw times before `before` (hour counts stay). */
  prune(before: number): void {
    let n = 0;
    while (n < this.recent.length && this.recent[n]! < before) n++;
    if (n) this.recent.splice(0, n);
  }

  bucketCount(bucket: number): number {
    return this.perBucket.get(bucket) ?? 0;
  }

  countBetween(from: number, to: number): number {
    let n = 0;
    for (let i = this.recent.length - 1; i >= 0 && this.recent[i]! >= from; i--) if (this.recent[i]! < to) n++;
    return n;
  }
}

const isWeekend = (bucket: number) => {
  // Day of the week by arithmetic (1970-01-01 was a Thursday): this runs on every tick.
  const day = (((Math.floor(bucket / PER_DAY) + 4) % 7) + 7) % 7;
  return day === 0 || day === 6;
};

/** Expected claims per hour in absolute quarter hour `bucket`, from buckets fully observed before `now`. */
export function bucketRate(history: ClaimHistory, bucket: number, now: number, p: Pick<ForecastParams, "weeksBack" | "weekDecay">): number {
  return bucketRateOrUnknown(history, bucket, now, p) ?? 0;
}

/** As bucketRate, but null when neither the same quarter hour of past weeks nor of past days was observed. */
export function bucketRateOrUnknown(history: ClaimHistory, bucket: number, now: number, p: Pick<ForecastParams, "weeksBack" | "weekDecay">): number | null {
  const first = Math.ceil(history.since / BUCKET_MS);
  const current = Math.floor(now / BUCKET_MS);
  const observed = (h: number) => h >= first && h < current;
  const weighted = (candidates: number[]) => {
    let sum = 0;
    let weights = 0;
    let w = 1;
    for (const h of candidates) {
      if (observed(h)) {
        sum += w * history.bucketCount(h);
        weights += w;
      }
      w *= p.weekDecay;
    }
    return weights > 0 ? ((sum / weights) * HOUR_MS) / BUCKET_MS : null;
  };
  const weeks = Array.from({ length: p.weeksBack }, (_, k) => bucket - PER_WEEK * (k + 1));
  const weekly = weighted(weeks);
  // The upper median of the weeks observed: one odd week (a holiday) does not drag the forecast
  // down for the week after it, as it does the weighted mean.
  const counts = weeks.filter(observed).map((h) => history.bucketCount(h)).sort((a, b) => a - b);
  const median = counts.length > 0 ? (counts[Math.floor(counts.length / 2)]! * HOUR_MS) / BUCKET_MS : 0;
  const sameKind = Array.from({ length: 6 }, (_, d) => bucket - PER_DAY * (d + 1)).filter((b) => isWeekend(b) === isWeekend(bucket));
  const daily = weighted(sameKind);
  if (weekly === null && daily === null) return null;
  return Math.max(weekly ?? 0, median, daily ?? 0);
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

/**
 * The stock that serves a share `level` of the claims warm (the fill rate). A claim finds a
 * ready instance when fewer than k claims came in the boot time before it (each took one not yet
 * replaced); arrivals being Poisson, that is P(N <= k - 1). So k = quantile + 1, and 0 only
 * when no claim is expected.
 */
export function fillRateTarget(mean: number, level: number): number {
  return mean <= 0 ? 0 : poissonQuantile(mean, level) + 1;
}

/**
 * Whether a quarter hour at `rate` (claims per hour) is worth a spare at `level`: not when the
 * chance that anyone claims in it at all is within the miss rate allowed. The fill rate keeps
 * one spare for any rate above zero, so without this the quiet hours (a late session now and
 * then) hold a spare whatever level calibration plans with, and a team served above its target
 * could not be planned down there, where a spare serves the fewest claims.
 */
export function anyClaimLikely(rate: number, level: number): boolean {
  return 1 - Math.exp((-rate * BUCKET_MS) / HOUR_MS) > 1 - level;
}

/** What calibration adds to the forecast (calibration.ts): a demand factor and a level per quarter hour. */
export interface Calibration {
  /** Multiplies the forecast rate (>= 1: the recent forecast error when demand ran above it). */
  rateFactor: number;
  /** The service level to plan with for quarter hour `bucket`. */
  levelAt(bucket: number): number;
  /** Spares to keep in quarter hour `bucket` whatever the forecast (1 where claims came that it did not expect). */
  floorAt(bucket: number): number;
}

export interface WarmForecast {
  /** Claims per hour used (the highest over the look-ahead and hold window, or the recent rate), after the rate factor. */
  rate: number;
  /** Expected claims during one boot time at that rate. */
  expected: number;
  /** The highest service level planned with in the window. */
  level: number;
  rateFactor: number;
  target: number;
}

/**
 * Every quarter hour overlapping the window [now - hold, now + 2B] is planned for at its own
 * rate and level; the target is the largest of them.
 */
export function forecastWarmTarget(history: ClaimHistory, now: number, p: ForecastParams, calibration?: Calibration): WarmForecast {
  const from = Math.floor((now - p.holdMs) / BUCKET_MS);
  const to = Math.floor((now + 2 * p.bootMs) / BUCKET_MS);
  const factor = calibration?.rateFactor ?? 1;
  const recent = (history.countBetween(now - p.recentMs, now + 1) * HOUR_MS) / p.recentMs;
  const out: WarmForecast = { rate: 0, expected: 0, level: p.serviceLevel, rateFactor: factor, target: 0 };
  for (let b = from; b <= to; b++) {
    const forecast = bucketRateOrUnknown(history, b, now, p);
    const rate = Math.max(recent, forecast ?? 0) * factor;
    const level = calibration ? calibration.levelAt(b) : p.serviceLevel;
    const expected = (rate * p.bootMs) / HOUR_MS;
    // Nothing known yet about this quarter hour (the first day): one spare, not none.
    const floor = Math.max(forecast === null ? 1 : 0, calibration ? calibration.floorAt(b) : 0);
    const target = Math.max(floor, anyClaimLikely(rate, level) ? fillRateTarget(expected, level) : 0);
    out.rate = Math.max(out.rate, rate);
    out.expected = Math.max(out.expected, expected);
    out.level = Math.max(out.level, level);
    out.target = Math.max(out.target, target);
  }
  return out;
}
