/**
 * The ledger's arithmetic, pure: turns the history of one instance (or one home volume) into
 * usage lines, each a stretch of time accounted to one account (a user, or the warm pool),
 * priced the way AWS bills:
 *  - instances per second, with a 60-second minimum per launch (Linux), from the moment the
 *    provider accepted the launch until the instance ended; a partial second counts as one;
 *  - the price in force during each stretch (spot prices move; see prices.ts);
 *  - EBS volumes per GB-month, prorated per millisecond of each calendar month (UTC).
 * Time before the instance was assigned is the warm pool's; from assignment on it is the owner's
 * (an instance has at most one owner: after release it is terminated, never reused).
 */
import type { PriceSource, PricedInstance } from "./prices";

/** The account that pays for free (warm) instances. */
export const POOL_ACCOUNT = "(pool)";
export const MIN_BILLED_SECONDS = 60;
const HOUR_MS = 3_600_000;

export interface InstanceHistory extends PricedInstance {
  id: string;
  purpose: string;
  /** The user it was assigned to (kept after release), or null if it never left the pool. */
  ownerId: string | null;
  assignedAt: number | null;
  /** When billing starts: the provider accepted the launch. Null: it never reached the provider. */
  billStart: number | null;
  endedAt: number | null;
}

export interface VolumeHistory {
  userId: string;
  purpose: string;
  sizeGiB: number;
  /** The user's first assignment of the purpose (the provider creates the home volume then). */
  createdAt: number;
}

export interface Window {
  from: number;
  to: number;
}

export interface UsageLine {
  /** "job": a batch job run outside the pool's instances (ECS), billed by its runner (issue #18). */
  kind: "instance" | "volume" | "job";
  /** The instance, or null for a volume or a job. */
  instanceId: string | null;
  purpose: string;
  account: string;
  /** The stretch, clipped to the window asked for. */
  from: number;
  to: number;
  cost: number;
}

/** The billed stretch of an instance: [billStart, billStart + max(60, ceil(seconds)) s). */
export function billedSpan(h: InstanceHistory, now: number): Window | null {
  if (h.billStart === null) return null;
  const end = Math.max(h.billStart, h.endedAt ?? now);
  const seconds = Math.max(MIN_BILLED_SECONDS, Math.ceil((end - h.billStart) / 1000));
  return { from: h.billStart, to: h.billStart + seconds * 1000 };
}

function clip(a: Window, b: Window): Window | null {
  const from = Math.max(a.from, b.from);
  const to = Math.min(a.to, b.to);
  return from < to ? { from, to } : null;
}

export function costOf(h: PricedInstance, span: Window, prices: PriceSource): number {
  let cost = 0;
  for (const p of prices.pieces(h, span.from, span.to)) cost += (p.hourlyPrice * (p.to - p.from)) / HOUR_MS;
  return cost;
}

/** The usage lines of one instance inside `window` (at most two: the pool's and the owner's). */
export function instanceUsage(h: InstanceHistory, window: Window, now: number, prices: PriceSource): UsageLine[] {
  const span = billedSpan(h, now);
  if (!span) return [];
  const split = h.ownerId !== null && h.assignedAt !== null ? Math.min(span.to, Math.max(span.from, h.assignedAt)) : span.to;
  const parts: Array<[string, Window]> = [
    [POOL_ACCOUNT, { from: span.from, to: split }],
    [h.ownerId ?? POOL_ACCOUNT, { from: split, to: span.to }],
  ];
  const out: UsageLine[] = [];
  for (const [account, part] of parts) {
    const c = clip(part, window);
    if (!c) continue;
    out.push({ kind: "instance", instanceId: h.id, purpose: h.purpose, account, from: c.from, to: c.to, cost: costOf(h, c, prices) });
  }
  return out;
}

function startOfMonth(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function startOfNextMonth(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** A home volume's usage inside `window` (until `now`): size x price x the share of each month it existed. */
export function volumeUsage(v: VolumeHistory, pricePerGbMonth: number, window: Window, now: number): UsageLine[] {
  const c = clip({ from: v.createdAt, to: now }, window);
  if (!c) return [];
  let cost = 0;
  for (let t = c.from; t < c.to; ) {
    const monthStart = startOfMonth(t);
    const monthEnd = startOfNextMonth(t);
    const end = Math.min(c.to, monthEnd);
    cost += (v.sizeGiB * pricePerGbMonth * (end - t)) / (monthEnd - monthStart);
    t = end;
  }
  return [{ kind: "volume", instanceId: null, purpose: v.purpose, account: v.userId, from: c.from, to: c.to, cost }];
}
