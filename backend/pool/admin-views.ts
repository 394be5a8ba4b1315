/**
 * What an admin (or an operator at the CLI) may read of what the pool records: every live
 * instance with its owner, state, idle deadline and cost so far, and the history of events,
 * filtered and paged. Read-only; the Pool facade exposes these as `adminInstances` and
 * `adminEvents`, and `rstudio-pool pool ls` / `rstudio-pool events` call them directly.
 */
import type { Kysely } from "kysely";
import type { PoolConfig } from "../config/schema";
import { Ledger } from "../cost/ledger";
import { roundMoney } from "../cost/money";
import { PoolError } from "../errors";
import { listLiveInstances, queryEvents, type LiveInstanceRow, type StoredEvent } from "../store/admin-reads";
import type { EventKind } from "../store/events";
import type { Database } from "../store/schema";

export interface AdminInstance {
  id: string;
  purpose: string;
  state: string;
  stateReason: string | null;
  ownerId: string | null;
  /** When it entered its current state (for running: when it was assigned, or became free). */
  since: string;
  idleDeadline: string | null;
  /** What it has cost since its launch, in `currency` (the pool's and its owner's time). */
  costSoFar: number;
  currency: string;
  hourlyPrice: number | null;
  providerId: string | null;
  instanceType: string | null;
  market: string | null;
  launchedAt: string;
}

export interface AdminEvent {
  id: number;
  at: string;
  kind: string;
  instanceId: string | null;
  userId: string | null;
  purpose: string | null;
  reason: string | null;
  actor: string;
  details: Record<string, unknown> | null;
}

export interface EventPage {
  events: AdminEvent[];
  /** Pass as `cursor` for the next page; null when this page is the last. */
  nextCursor: string | null;
}

export const EVENT_KINDS = [
  "launch-requested", "launched", "launch-retry", "launch-failed", "running", "assigned", "released", "reaped",
  "expired", "busy-extended", "lost", "interrupted", "adopted", "terminated", "orphan-terminated", "scaled-down", "boot-timeout",
  "resurfaced", "interruption-warning", "rebalance-recommendation",
  "job-queued", "job-starting", "job-running", "job-succeeded", "job-failed", "job-cancelled", "keep-alive-set", "keep-alive-ended",
] as const satisfies readonly EventKind[];
// Fails to compile when an event kind is added to the store but not here.
const allKindsListed: Exclude<EventKind, (typeof EVENT_KINDS)[number]> extends never ? true : never = true;
void allKindsListed;

export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 100;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function since(r: LiveInstanceRow): number {
  switch (r.state) {
    case "running":
      return r.assignedAt ?? r.runningAt ?? r.updatedAt;
    case "releasing":
      return r.updatedAt;
    default:
      return r.launchedAt;
  }
}

export async function adminInstances(db: Kysely<Database>, config: PoolConfig, now: number): Promise<AdminInstance[]> {
  const rows = await listLiveInstances(db);
  const cost = new Map<string, number>();
  if (rows.length > 0) {
    const from = Math.min(...rows.map((r) => r.launchedAt));
    for (const line of await new Ledger(db, config).lines({ from, to: now + 1 }, now)) {
      if (line.instanceId) cost.set(line.instanceId, (cost.get(line.instanceId) ?? 0) + line.cost);
    }
  }
  return rows.map((r) => ({
    id: r.id,
    purpose: r.purpose,
    state: r.state,
    stateReason: r.stateReason,
    ownerId: r.ownerId,
    since: iso(since(r))!,
    idleDeadline: iso(r.idleDeadline),
    costSoFar: roundMoney(cost.get(r.id) ?? 0),
    currency: config.currency,
    hourlyPrice: r.hourlyPrice,
    providerId: r.providerId,
    instanceType: r.instanceType,
    market: r.market,
    launchedAt: iso(r.launchedAt)!,
  }));
}

export interface EventFilter {
  user?: string;
  instance?: string;
  kinds?: string[];
  since?: number;
  until?: number;
  order: "asc" | "desc";
  limit: number;
  afterId?: number;
}

const FILTER_KEYS = ["user", "instance", "kind", "since", "until", "order", "limit", "cursor"];

function bad(message: string): PoolError {
  return new PoolError("INVALID_REQUEST", message);
}

/** A time given as ISO 8601 (2026-12-01T10:00:00Z, or a date) or as epoch milliseconds. */
function parseTime(name: string, v: string): number {
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) throw bad(`"${name}" must be an ISO 8601 time (2026-12-01T10:00:00Z) or epoch milliseconds, got "${v.slice(0, 40)}".`);
  return ms;
}

function one(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw bad(`Give "${name}" once, as text.`);
  return v;
}

/** Validates the filter of an events read (query string or CLI options); throws INVALID_REQUEST. */
export function parseEventFilter(input: Record<string, unknown>): EventFilter {
  for (const key of Object.keys(input)) {
    if (!FILTER_KEYS.includes(key)) throw bad(`Unknown filter "${key.slice(0, 40)}"; use ${FILTER_KEYS.join(", ")}.`);
  }
  const f: EventFilter = { order: "desc", limit: DEFAULT_PAGE };
  const user = one("user", input.user);
  if (user !== undefined) {
    if (!/^[A-Za-z0-9._@+-]{1,128}$/.test(user)) throw bad(`"user" must be a user id (letters, digits and . _ @ + -).`);
    f.user = user;
  }
  const instance = one("instance", input.instance);
  if (instance !== undefined) {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(instance)) throw bad(`"instance" must be an instance id such as rsp-0123456789abcdef.`);
    f.instance = instance;
  }
  const kind = one("kind", input.kind);
  if (kind !== undefined) {
    const kinds = kind.split(",").map((k) => k.trim()).filter(Boolean);
    const unknown = kinds.find((k) => !(EVENT_KINDS as readonly string[]).includes(k));
    if (unknown !== undefined || kinds.length === 0) throw bad(`Unknown event kind "${(unknown ?? kind).slice(0, 40)}"; kinds are ${EVENT_KINDS.join(", ")}.`);
    f.kinds = kinds;
  }
  const s = one("since", input.since);
  if (s !== undefined) f.since = parseTime("since", s);
  const u = one("until", input.until);
  if (u !== undefined) f.until = parseTime("until", u);
  if (f.since !== undefined && f.until !== undefined && f.since >= f.until) throw bad(`"since" must be before "until".`);
  const order = one("order", input.order);
  if (order !== undefined) {
    if (order !== "asc" && order !== "desc") throw bad(`"order" must be asc (oldest first) or desc (newest first).`);
    f.order = order;
  }
  const limit = one("limit", input.limit);
  if (limit !== undefined) {
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_PAGE) throw bad(`"limit" must be a whole number from 1 to ${MAX_PAGE}.`);
    f.limit = Number(limit);
  }
  const cursor = one("cursor", input.cursor);
  if (cursor !== undefined) {
    const id = /^e(\d{1,15})$/.exec(cursor);
    if (!id) throw bad(`"cursor" is not one this API gave out; pass the nextCursor of the previous page.`);
    f.afterId = Number(id[1]);
  }
  return f;
}

function eventView(e: StoredEvent): AdminEvent {
  return { id: e.id, at: new Date(e.at).toISOString(), kind: e.kind, instanceId: e.instanceId, userId: e.userId, purpose: e.purpose, reason: e.reason, actor: e.actor, details: e.details };
}

export async function adminEvents(db: Kysely<Database>, f: EventFilter): Promise<EventPage> {
  // One row more than asked says whether there is a next page.
  const rows = await queryEvents(db, { userId: f.user, instanceId: f.instance, kinds: f.kinds, since: f.since, until: f.until, afterId: f.afterId, order: f.order, limit: f.limit + 1 });
  const page = rows.slice(0, f.limit);
  const more = rows.length > f.limit;
  return { events: page.map(eventView), nextCursor: more ? `e${page[page.length - 1]!.id}` : null };
}
