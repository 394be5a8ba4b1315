/**
 * Calibration of the adaptive warm pool, independent of any trace: it measures what the
 * forecast promised against what happened, and corrects the plan.
 *
 * - Warm share, per purpose and hour of the week (UTC, 0 = Monday 00:00). When an hour ends
 *   in which fewer than the service level of its claims were served warm, and the misses of
 *   its sliding window (that hour in the last `windowWeeks` weeks) are unlikely at the target
 *   miss rate (binomial test, `evidence` 5%), that hour of the week gets a boost of one step;
 *   a boost of b plans with a miss rate of (1 - serviceLevel) / 2^b. An hour whose claims were
 *   all served warm, and whose window shows no such evidence, eases back by a quarter step, so
 *   a boost that is no longer needed fades in a few weeks. (Judged on the hour alone, one miss
 *   in an hour of two claims boosted it: on a small team that is noise, and the boosts kept
 *   the pool well above its target.) The same hour on
 *   other days of the same kind (weekday/weekend) is planned with at least half its boost: a
 *   miss at 07:00 on Tuesday is a warning for 07:00 on Wednesday. Where the boost is a whole
 *   step or more, at least one spare is kept whatever the forecast says.
 * - Warm share, per purpose, as an integral controller of the miss count: after each hour the
 *   purpose's offset moves by 0.05 per claim missed, less 0.05 x (1 - level) per claim; it
 *   settles where the misses are the allowed share. It is added to every hour's boost (within
 *   ±3 steps), so a team whose share runs above the target is planned with a lower level
 *   (fewer idle spares) until it holds, and one whose share runs below, with a higher one.
 *   Boosts and offset are the one piece of state that cannot be derived again from the events
 *   (what was measured came out of what was planned): they are kept in `warm_calibration`.
 * - Forecast error, per purpose: claims counted in each finished quarter hour against what the
 *   forecast expected for it before it began. When the last day brought more claims than
 *   forecast (a surge, a new team, a habit that drifts up), the rate is scaled by that ratio
 *   (1 to 3) until the forecast catches up. It is derived from the events alone.
 */
import type { CalibrationRow } from "../store/warm-calibration";
import { BUCKET_MS, bucketRate, type Calibration, type ClaimHistory, type ForecastParams } from "./forecast";

const HOUR_MS = 3_600_000;
export const HOURS_PER_WEEK = 168;
const BUCKETS_PER_HOUR = HOUR_MS / BUCKET_MS;

export interface CalibrationParams {
  windowWeeks: number;
  maxBoost: number;
  /** The purpose-wide offset moves by this per claim missed, less (1 - level) per claim. */
  offsetGain: number;
  maxOffset: number;
  /** Quarter hours the rate factor looks back over (one day). */
  errorBuckets: number;
  /** Claims added to both sides of the ratio so a handful of claims does not swing it. */
  errorPrior: number;
  maxRateFactor: number;
  /**
   * An hour of the week is boosted only when its window's misses would come by chance less
   * often than this at the target miss rate (a one-sided binomial test).
   */
  evidence: number;
}

export const DEFAULT_CALIBRATION: CalibrationParams = { windowWeeks: 4, maxBoost: 6, offsetGain: 0.05, maxOffset: 3, errorBuckets: 96, errorPrior: 4, maxRateFactor: 3, evidence: 0.05 };

/** The row of `warm_calibration` that holds a purpose's offset (the others are hours of the week). */
export const OFFSET_ROW = -1;

/** Hour of the week of absolute hour `hour` (1970-01-01 was a Thursday: day 3 from Monday). */
export function hourOfWeek(hour: number): number {
  const day = (((Math.floor(hour / 24) + 3) % 7) + 7) % 7;
  return day * 24 + (((hour % 24) + 24) % 24);
}

/**
 * Whether `misses` of `claims` are unlikely (P(X >= misses) < `evidence`, X ~ Binomial(claims,
 * missRate)) if claims missed at `missRate`: the evidence that an hour falls short, not noise.
 */
export function missesUnlikely(misses: number, claims: number, missRate: number, evidence: number): boolean {
  if (misses <= 0) return false;
  if (missRate <= 0) return true;
  if (missRate >= 1) return false;
  // P(X <= misses - 1), summed in logs: (1 - p)^n underflows on big teams.
  const ratio = Math.log(missRate / (1 - missRate));
  let logTerm = claims * Math.log1p(-missRate);
  let below = Math.exp(logTerm);
  for (let j = 0; j < misses - 1; j++) {
    logTerm += Math.log((claims - j) / (j + 1)) + ratio;
    below += Math.exp(logTerm);
  }
  return 1 - below < evidence;
}

export interface ForecastError {
  /** Claims over the last day divided by what the forecast expected (with the prior). */
  bias: number;
  /** Mean absolute error per quarter hour over the last day, in claims. */
  meanAbsError: number;
  claims: number;
  expected: number;
}

export interface WarmShareReport {
  claims: number;
  warm: number;
  /** Warm share over the sliding window (null without claims). */
  share: number | null;
}

class PurposeCalibration {
  readonly boost = new Float64Array(HOURS_PER_WEEK);
  readonly applied = new Float64Array(HOURS_PER_WEEK).fill(-Infinity);
  offset = 0;
  offsetApplied = -Infinity;
  /** Claims per absolute hour: [warm, launched]. */
  readonly outcomes = new Map<number, [number, number]>();
  /** Finished quarter hours: what was expected, what came. */
  readonly errors: Array<{ bucket: number; expected: number; actual: number }> = [];
  lastErrorBucket: number | null = null;
  /** The hour `close` last ran in (it has work only when the hour changes). */
  closedIn: number | null = null;
}

export class WarmCalibration {
  private readonly purposes = new Map<string, PurposeCalibration>();

  constructor(readonly params: CalibrationParams = DEFAULT_CALIBRATION) {}

  private of(purpose: string): PurposeCalibration {
    let c = this.purposes.get(purpose);
    if (!c) {
      c = new PurposeCalibration();
      this.purposes.set(purpose, c);
    }
    return c;
  }

  load(rows: CalibrationRow[]): void {
    for (const r of rows) {
      const c = this.of(r.purpose);
      if (r.hourOfWeek === OFFSET_ROW) {
        c.offset = r.boost;
        c.offsetApplied = r.appliedHour;
      }
      if (r.hourOfWeek < 0 || r.hourOfWeek >= HOURS_PER_WEEK) continue;
      c.boost[r.hourOfWeek] = r.boost;
      c.applied[r.hourOfWeek] = r.appliedHour;
    }
  }

  /** A claim of `purpose` at `at`, served warm or by a launch. */
  observe(purpose: string, at: number, warm: boolean): void {
    const o = this.of(purpose).outcomes;
    const h = Math.floor(at / HOUR_MS);
    const cell = o.get(h) ?? [0, 0];
    cell[warm ? 0 : 1]++;
    o.set(h, cell);
  }

  /**
   * Applies the outcome of every finished hour before `now` not applied yet (each hour once,
   * also across restarts); returns the rows to store.
   */
  close(purpose: string, now: number, serviceLevel: number): CalibrationRow[] {
    const c = this.of(purpose);
    const current = Math.floor(now / HOUR_MS);
    const changed: CalibrationRow[] = [];
    if (c.closedIn === current) return changed;
    c.closedIn = current;
    for (const h of c.outcomes.keys()) if (h < current - this.params.windowWeeks * HOURS_PER_WEEK) c.outcomes.delete(h);
    for (const [hour, [warm, launched]] of [...c.outcomes].sort((a, b) => a[0] - b[0])) {
      if (hour >= current) continue;
      if (hour > c.offsetApplied) {
        // Integral control of the miss count: it settles where misses are (1 - level) of claims.
        const drift = this.params.offsetGain * (launched - (1 - serviceLevel) * (warm + launched));
        c.offset = Math.min(this.params.maxOffset, Math.max(-this.params.maxOffset, c.offset + drift));
        c.offsetApplied = hour;
        changed.push({ purpose, hourOfWeek: OFFSET_ROW, boost: c.offset, appliedHour: hour });
      }
      const cell = hourOfWeek(hour);
      if (c.applied[cell]! >= hour) continue;
      const before = c.boost[cell]!;
      // Judged on the sliding window of this hour of the week, not on the hour alone: on a small
      // team one miss in an hour of two claims is "50%", and as likely as not at the target.
      const window = this.share(purpose, hour + 1, cell);
      const short = missesUnlikely(window.claims - window.warm, window.claims, 1 - serviceLevel, this.params.evidence);
      if (warm < serviceLevel * (warm + launched) && short) c.boost[cell] = Math.min(this.params.maxBoost, before + 1);
      else if (launched === 0 && !short) c.boost[cell] = Math.max(0, before - 0.25);
      c.applied[cell] = hour;
      changed.push({ purpose, hourOfWeek: cell, boost: c.boost[cell]!, appliedHour: hour });
    }
    return changed;
  }

  /** Warm share of the purpose over the window ending before absolute hour `endHour`, in one hour of the week or all. */
  share(purpose: string, endHour: number, cell?: number): WarmShareReport {
    const c = this.of(purpose);
    const start = endHour - this.params.windowWeeks * HOURS_PER_WEEK;
    let warm = 0;
    let claims = 0;
    for (const [hour, [w, l]] of c.outcomes) {
      if (hour < start || hour >= endHour || (cell !== undefined && hourOfWeek(hour) !== cell)) continue;
      warm += w;
      claims += w + l;
    }
    return { claims, warm, share: claims > 0 ? warm / claims : null };
  }

  /** The purpose-wide offset added to every hour's boost (negative: the share ran above the target). */
  offset(purpose: string): number {
    return this.of(purpose).offset;
  }

  boostAt(purpose: string, cell: number): number {
    const c = this.of(purpose);
    const hour = cell % 24;
    const weekend = cell >= 5 * 24;
    let shared = 0;
    for (let day = 0; day < 7; day++) {
      if (day >= 5 !== weekend) continue;
      shared = Math.max(shared, c.boost[day * 24 + hour]!);
    }
    return Math.max(c.boost[cell]!, shared / 2);
  }

  /**
   * Records the forecast error of every quarter hour finished since the last call (the
   * expectation as the forecast saw it when the quarter began).
   */
  trackError(purpose: string, history: ClaimHistory, now: number, p: Pick<ForecastParams, "weeksBack" | "weekDecay">): void {
    const c = this.of(purpose);
    const current = Math.floor(now / BUCKET_MS);
    const firstKnown = Math.ceil(history.since / BUCKET_MS);
    let b = Math.max(firstKnown, c.lastErrorBucket === null ? current - this.params.errorBuckets : c.lastErrorBucket + 1, current - this.params.errorBuckets);
    for (; b < current; b++) c.errors.push({ bucket: b, expected: bucketRate(history, b, b * BUCKET_MS, p) / BUCKETS_PER_HOUR, actual: history.bucketCount(b) });
    c.lastErrorBucket = current - 1;
    const keepFrom = current - this.params.errorBuckets;
    let n = 0;
    while (n < c.errors.length && c.errors[n]!.bucket < keepFrom) n++;
    if (n) c.errors.splice(0, n);
  }

  forecastError(purpose: string): ForecastError {
    let claims = 0;
    let expected = 0;
    let absError = 0;
    const errors = this.of(purpose).errors;
    for (const e of errors) {
      claims += e.actual;
      expected += e.expected;
      absError += Math.abs(e.actual - e.expected);
    }
    const prior = this.params.errorPrior;
    return { bias: (claims + prior) / (expected + prior), meanAbsError: errors.length ? absError / errors.length : 0, claims, expected };
  }

  /** The calibration the forecast plans with now. */
  plan(purpose: string, serviceLevel: number): Calibration {
    const rateFactor = Math.min(this.params.maxRateFactor, Math.max(1, this.forecastError(purpose).bias));
    const boostOf = (bucket: number) => this.boostAt(purpose, hourOfWeek(Math.floor(bucket / BUCKETS_PER_HOUR)));
    const offset = this.of(purpose).offset;
    const lowest = -this.params.maxOffset;
    return {
      rateFactor,
      levelAt: (bucket) => 1 - (1 - serviceLevel) / 2 ** Math.max(lowest, boostOf(bucket) + offset),
      // A boost of a whole step means claims came there that missed: where the forecast sees
      // nobody (a rare late session), a higher level alone would still plan for none.
      floorAt: (bucket) => (boostOf(bucket) >= 1 ? 1 : 0),
    };
  }
}
