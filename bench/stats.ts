/** Percentiles of one round, and the median and spread of a figure over rounds. */

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A figure over several rounds: its median, lowest and highest value. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]! };
}

/** Summarises every numeric field of the rounds (all rounds have the same fields). */
export function summarise<T extends object>(rounds: T[]): Record<keyof T, Spread> {
  const out = {} as Record<keyof T, Spread>;
  if (rounds.length === 0) return out;
  for (const key of Object.keys(rounds[0]!) as Array<keyof T>) {
    if (typeof rounds[0]![key] === "number") out[key] = spread(rounds.map((r) => r[key] as number));
  }
  return out;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
