/**
 * The instance state machine and its one owner. Every change of an instance's `state` in the
 * pool goes through `transition` (and every new row through `createInstance`): the guarded
 * UPDATE, the history event in the same transaction (so the ledger, which bills from the
 * events, never sees a state without its event or an event without its state), the metric and
 * the log. A pair missing from the table is refused before anything is written.
 *
 * To add a state: add it to contract/states.ts and its groups, then its rows here; the
 * transition test walks the table.
 */
import type { Kysely } from "kysely";
import type { InstanceState } from "../../contract";
import { recordEvent, type NewEvent } from "../store/events";
import { insertInstance, updateInstance, type Instance, type InstancePatch, type UpdateGuard } from "../store/instances";
import { writeStateGuarded } from "../store/instances/writes";
import type { Database } from "../store/schema";
import type { PoolContext } from "./context";

/** Allowed changes: from → to → why it happens (the "why" is documentation, rendered in docs/architecture.md). */
export const TRANSITIONS: { readonly [F in InstanceState]: { readonly [T in InstanceState]?: string } } = {
  launching: {
    booting: "the provider accepted the launch (or the reconciler found it did)",
    releasing: "released, reaped or scaled down before it booted",
    failed: "the launch failed for good",
  },
  booting: {
    running: "its service answers",
    releasing: "released, reaped, or not ready within the boot timeout",
    interrupting: "the provider warned it takes the instance back (spot: two minutes)",
    lost: "the provider no longer has it",
    interrupted: "the provider took it back",
  },
  running: {
    releasing: "released by its user, reaped idle, expired, scaled down, or its purpose was removed",
    interrupting: "the provider warned it takes the instance back (spot: two minutes), or a rebalance move began",
    lost: "the provider no longer has it",
    interrupted: "the provider took it back",
  },
  interrupting: {
    releasing: "its user's home was taken off for the replacement: terminated without waiting for the provider",
    lost: "the provider no longer has it",
    interrupted: "the provider took it back before its home was taken off",
  },
  releasing: {
    terminated: "the provider terminated it (or no longer lists it)",
  },
  terminated: {
    releasing: "the provider still lists it running: terminate it again",
  },
  lost: {
    releasing: "it showed up again: terminated, never left running unknown",
  },
  interrupted: {
    releasing: "it showed up again: terminated, never left running unknown",
  },
  failed: {
    releasing: "the failed launch made an instance after all: terminated",
  },
};

/** States a new row may start in, and why. */
export const CREATIONS: { readonly [S in InstanceState]?: string } = {
  launching: "a claim or the warm pool asked for an instance",
  booting: "the reconciler adopted an unknown instance of the pool that is still starting",
  running: "the reconciler adopted an unknown instance of the pool that is ready",
};

export function isAllowed(from: InstanceState, to: InstanceState): boolean {
  return TRANSITIONS[from][to] !== undefined;
}

export class TransitionRefused extends Error {
  constructor(from: readonly InstanceState[], to: InstanceState) {
    super(`instance state change ${from.join("|")} → ${to} is not in the transition table`);
    this.name = "TransitionRefused";
  }
}

type Ctx = Pick<PoolContext, "db" | "clock" | "log" | "metrics">;
type EventSpec = Omit<NewEvent, "at" | "instanceId"> & { at?: number };

export interface LogSpec {
  level?: "info" | "warn" | "error";
  msg: string;
  fields?: Record<string, unknown>;
}

export interface Transition {
  /** The states the row must be in (the guard); each pair with `to` must be in the table. */
  from: InstanceState | readonly InstanceState[];
  to: InstanceState;
  /** Other columns set by the same UPDATE. */
  patch?: InstancePatch;
  /** Also guard on the owner (null: unowned). */
  ownerId?: string | null;
  /** Also guard on the idle deadline: set and not after this (the reaper; a heartbeat that moved it wins). */
  idleDeadlineAtMost?: number;
  event: EventSpec;
  /** More events of the same change, written in the same transaction. */
  alsoEvents?: EventSpec[];
  log?: LogSpec;
}

/**
 * Test seam: runs between the row's write and its event, inside the transaction. A test throws
 * here to show that the row change is rolled back with the event.
 */
export const transitionFaults: { afterWrite?: (id: string) => void | Promise<void> } = {};

/** Runs `work` in a transaction, or in the caller's when `db` is one already. */
function atomically<T>(db: Kysely<Database>, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

function event(id: string, e: EventSpec, now: number): NewEvent {
  return { ...e, at: e.at ?? now, instanceId: id };
}

function logIt(ctx: Ctx, id: string, kind: string, spec: LogSpec | undefined): void {
  if (!spec) return;
  ctx.log[spec.level ?? "info"]({ event: kind, instanceId: id, ...spec.fields }, spec.msg);
}

/**
 * Changes an instance's state if it is still in `t.from`: the row and its event in one
 * transaction (the caller's, when `db` is a transaction), then the metric and the log.
 * Returns whether the row changed (false: someone else moved it first; nothing written).
 */
export async function transition(ctx: Ctx, id: string, t: Transition, db: Kysely<Database> = ctx.db): Promise<boolean> {
  const from = typeof t.from === "string" ? [t.from] : t.from;
  if (from.length === 0 || from.some((f) => !isAllowed(f, t.to))) throw new TransitionRefused(from, t.to);
  const now = ctx.clock.now();
  const changed = await atomically(db, async (trx) => {
    const ok = await writeStateGuarded(trx, id, from, t.to, t.patch ?? {}, t.ownerId, t.idleDeadlineAtMost);
    if (!ok) return false;
    await transitionFaults.afterWrite?.(id);
    await recordEvent(trx, event(id, t.event, now));
    for (const e of t.alsoEvents ?? []) await recordEvent(trx, event(id, e, now));
    return true;
  });
  if (changed) {
    ctx.metrics.transitions.inc({ from: from.length === 1 ? from[0]! : "any", to: t.to });
    logIt(ctx, id, t.event.kind, t.log);
  }
  return changed;
}

/** Inserts a new row in one of the CREATIONS states, with its first events, atomically. */
export async function createInstance(ctx: Ctx, row: Instance, events: EventSpec[], db: Kysely<Database> = ctx.db, log?: LogSpec): Promise<void> {
  if (CREATIONS[row.state] === undefined) throw new TransitionRefused(["(new)" as InstanceState], row.state);
  const now = ctx.clock.now();
  await atomically(db, async (trx) => {
    await insertInstance(trx, row);
    await transitionFaults.afterWrite?.(row.id);
    for (const e of events) await recordEvent(trx, event(row.id, e, now));
  });
  ctx.metrics.transitions.inc({ from: "new", to: row.state });
  logIt(ctx, row.id, events[0]?.kind ?? "created", log);
}

/**
 * A change that is not a state change (a hand-over, a deadline, a launch retry, a recovered
 * provider id) but is recorded in the history: the row and the event in one transaction.
 */
export async function changeWithEvent(ctx: Ctx, id: string, patch: InstancePatch, guard: UpdateGuard, e: EventSpec, log?: LogSpec): Promise<boolean> {
  const now = ctx.clock.now();
  const changed = await atomically(ctx.db, async (trx) => {
    if (!(await updateInstance(trx, id, patch, guard))) return false;
    await transitionFaults.afterWrite?.(id);
    await recordEvent(trx, event(id, e, now));
    return true;
  });
  if (changed) logIt(ctx, id, e.kind, log);
  return changed;
}
