/**
 * The simulator: replays a trace through the real pool (class Pool, its claims, heartbeats,
 * releases and lifecycle loop, over a real in-memory SQLite store) with a simulated clock and
 * the simulated provider. Time jumps from event to event: claims, heartbeats, session ends,
 * boots becoming ready, idle deadlines, and a tick every few minutes so the warm policy can
 * follow the hour. The figures come from the pool's own ledger over the replayed history.
 */
import type { PoolConfig } from "../backend/config/schema";
import { createCostPolicies, type CostPolicies } from "../backend/cost/policies";
import { Ledger } from "../backend/cost/ledger";
import { POOL_ACCOUNT } from "../backend/cost/usage";
import { PoolError } from "../backend/errors";
import { staticPolicies, type Clock, type PoolPolicies } from "../backend/pool/context";
import { Pool } from "../backend/pool/service";
import { openStore } from "../backend/store/db";
import { getInstanceState } from "../backend/store/instances";
import { migrateToLatest } from "../backend/store/migrate";
import { baseConfig, purposeConfig } from "./config";
import { SimProvider } from "./provider";
import { schedulePolicies, type OfficeHours } from "./schedule";
import { EventQueue } from "./queue";
import type { TraceRow } from "./trace";

export type SimPolicy =
  | { kind: "static"; warm: number }
  /** calibrate: false plans with the bare forecast. */
  | { kind: "adaptive"; calibrate?: boolean }
  /** `warm` spares during office hours, none otherwise (see schedule.ts). */
  | { kind: "schedule"; warm: number; hours: OfficeHours };

export interface SimOptions {
  policy: SimPolicy;
  bootSeconds: number;
  hourlyPrice: number;
  idleTimeoutSeconds: number;
  serviceLevel: number;
  /** Ticks at least this often (simulated), so the warm target follows the clock. */
  tickEverySeconds: number;
  /**
   * How often (simulated) the reconciler compares the pool with the provider. The simulated
   * provider never loses, adds or changes an instance behind the pool's back, so the
   * reconciler finds nothing to fix and its interval cannot change a figure (a test checks
   * this); a longer one than the server's 30 s only saves wall time.
   */
  reconcileEverySeconds: number;
}

export const DEFAULT_SIM: Omit<SimOptions, "policy"> = {
  bootSeconds: 150,
  hourlyPrice: 0.0832, // t3.large on-demand, us-east-1
  idleTimeoutSeconds: 3600,
  serviceLevel: 0.95,
  tickEverySeconds: 300,
  reconcileEverySeconds: 3600,
};

export interface SimResult {
  policy: string;
  claims: number;
  refused: number;
  warmShare: number;
  waitP50Seconds: number;
  waitP95Seconds: number;
  usedInstanceHours: number;
  warmPoolIdleInstanceHours: number;
  idleBeforeReapInstanceHours: number;
  warmPoolIdleCost: number;
  totalCost: number;
  simulatedDays: number;
  /** Claims and warm claims per UTC day of the trace (first day first): how the share moves. */
  daily: Array<{ day: string; claims: number; warm: number }>;
  /** The adaptive policy's own report at the end: its forecast error over the last day, and its sliding-window warm share. */
  forecastBias?: number;
  forecastMeanAbsError?: number;
  /** The largest warm target the policy asked for. */
  maxWarmTarget: number;
  ticks: number;
  wallSeconds: number;
}

type SimEvent =
  | { kind: "claim"; row: TraceRow }
  | { kind: "heartbeat"; key: string }
  | { kind: "end"; key: string }
  /** periodic: only fills a quiet gap; otherwise a wake-up (a boot ready, a deadline due). */
  | { kind: "tick"; periodic?: boolean };

interface Session {
  /** Creation order: sessions waiting for a boot are settled in this order (determinism). */
  order: number;
  userId: string;
  purpose: string;
  instanceId: string | null;
  /** Claims waiting for a launched instance to boot. */
  waiting: Array<{ claimAt: number; seconds: number; closes: boolean }>;
  activeUntil: number;
  closes: boolean;
  heartbeatScheduled: boolean;
}

const HOUR = 3_600_000;

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export function policyName(p: SimPolicy): string {
  if (p.kind === "adaptive") return p.calibrate === false ? "adaptive (uncalibrated)" : "adaptive";
  return `${p.kind}:${p.warm}`;
}

export async function simulate(rows: TraceRow[], options: SimOptions): Promise<SimResult> {
  const wallStart = process.hrtime.bigint();
  if (rows.length === 0) throw new Error("the trace has no claims");
  const bootMs = options.bootSeconds * 1000;
  const start = Math.floor(rows[0]!.at / 86_400_000) * 86_400_000;
  const end = Math.max(...rows.map((r) => r.at + r.sessionSeconds * 1000)) + bootMs + options.idleTimeoutSeconds * 1000 + 15 * 60_000;
  let now = start;
  const clock: Clock = { now: () => now };
  const queue = new EventQueue<SimEvent>();

  const purposes = [...new Set(rows.map((r) => r.purpose))].map((name) =>
    purposeConfig({
      name,
      max: 1000,
      minFree: options.policy.kind === "static" ? options.policy.warm : 0,
      idleTimeoutSeconds: options.idleTimeoutSeconds,
      hourlyPrice: options.hourlyPrice,
    }),
  );
  const config: PoolConfig = baseConfig({
    purposes,
    warmPolicy: options.policy.kind === "adaptive" ? "adaptive" : "static",
    serviceLevel: options.serviceLevel,
    reconcileMs: options.reconcileEverySeconds * 1000,
    // The loop's period: here the simulated one (it sets how long the loop's lease lasts).
    tickMs: options.tickEverySeconds * 1000,
  });
  const store = openStore({ databaseUrl: "sqlite::memory:", dataDir: "/nonexistent" });
  await migrateToLatest(store);
  const provider = new SimProvider({ clock, bootMs, hourlyPrice: options.hourlyPrice, poolName: config.poolName, onLaunch: (at) => queue.push(at, { kind: "tick" }) });
  const policies: PoolPolicies =
    options.policy.kind === "adaptive"
      ? createCostPolicies(store.db, config, { defaultBootMs: bootMs, calibrate: options.policy.calibrate })
      : options.policy.kind === "schedule"
        ? schedulePolicies(options.policy.warm, options.policy.hours)
        : staticPolicies;
  let maxWarmTarget = 0;
  const observed: PoolPolicies = {
    checkClaimAllowed: (...a) => policies.checkClaimAllowed(...a),
    idleTimeoutMs: (...a) => policies.idleTimeoutMs(...a),
    warmTarget: async (purpose, at) => {
      const target = await policies.warmTarget(purpose, at);
      maxWarmTarget = Math.max(maxWarmTarget, target);
      return target;
    },
  };
  const pool = new Pool({ config, store, provider, clock, policies: observed });
  await pool.prepare();

  const sessions = new Map<string, Session>();
  const waits: number[] = [];
  let warm = 0;
  let refused = 0;
  let ticks = 0;
  const lastActive = new Map<string, number>();
  const days = new Map<string, { day: string; claims: number; warm: number }>();
  const dayOf = (at: number) => {
    const day = new Date(Math.floor(at / 86_400_000) * 86_400_000).toISOString().slice(0, 10);
    let d = days.get(day);
    if (!d) days.set(day, (d = { day, claims: 0, warm: 0 }));
    return d;
  };
  const heartbeatMs = (options.idleTimeoutSeconds * 1000) / 2;

  for (const row of rows) queue.push(row.at, { kind: "claim", row });
  for (let t = start; t < end; t += options.tickEverySeconds * 1000) queue.push(t, { kind: "tick", periodic: true });

  const begin = (s: Session, key: string, at: number, seconds: number, closes: boolean) => {
    const until = at + seconds * 1000;
    if (until >= s.activeUntil) s.closes = closes;
    s.activeUntil = Math.max(s.activeUntil, until);
    queue.push(s.activeUntil, { kind: "end", key });
    if (!s.heartbeatScheduled) {
      s.heartbeatScheduled = true;
      queue.push(at + heartbeatMs, { kind: "heartbeat", key });
    }
  };

  const claim = async (row: TraceRow) => {
    const key = `${row.userId}\u0000${row.purpose}`;
    const s = sessions.get(key) ?? { order: sessions.size, userId: row.userId, purpose: row.purpose, instanceId: null, waiting: [], activeUntil: 0, closes: true, heartbeatScheduled: false };
    sessions.set(key, s);
    try {
      const outcome = await pool.claim(row.userId, row.purpose);
      s.instanceId = outcome.instance.id;
      const ready = outcome.source === "warm" || (outcome.source === "existing" && outcome.instance.state === "running");
      const day = dayOf(now);
      day.claims++;
      if (ready) {
        warm++;
        day.warm++;
        waits.push(0);
        begin(s, key, now, row.sessionSeconds, !row.forgetsToClose);
      } else {
        s.waiting.push({ claimAt: now, seconds: row.sessionSeconds, closes: !row.forgetsToClose });
        waitingSessions.set(key, s);
      }
    } catch (err) {
      if (!(err instanceof PoolError)) throw err;
      dayOf(now).claims++;
      refused++;
    }
  };

  // Only the sessions with a claim waiting for a boot are looked at after a tick (at 1,000
  // people, walking every session after each tick was a tenth of the run).
  const waitingSessions = new Map<string, Session>();
  const settleWaiting = async () => {
    if (waitingSessions.size === 0) return;
    const pending = [...waitingSessions].sort((a, b) => a[1].order - b[1].order);
    for (const [key, s] of pending) {
      if (s.waiting.length === 0) {
        waitingSessions.delete(key);
        continue;
      }
      if (!s.instanceId) continue;
      const state = await getInstanceState(pool.db, s.instanceId);
      if (state === "running") {
        for (const w of s.waiting) {
          waits.push((now - w.claimAt) / 1000);
          begin(s, key, now, w.seconds, w.closes);
        }
        s.waiting = [];
        waitingSessions.delete(key);
      } else if (!state || !["launching", "booting"].includes(state)) {
        refused += s.waiting.length;
        s.waiting = [];
        waitingSessions.delete(key);
      }
    }
  };

  const heartbeat = async (key: string) => {
    const s = sessions.get(key)!;
    s.heartbeatScheduled = false;
    if (!s.instanceId || now >= s.activeUntil) return;
    try {
      await pool.heartbeat(s.userId, s.instanceId);
    } catch (err) {
      if (!(err instanceof PoolError)) throw err;
      return;
    }
    s.heartbeatScheduled = true;
    queue.push(Math.min(now + heartbeatMs, s.activeUntil), { kind: "heartbeat", key });
  };

  const sessionEnd = async (key: string): Promise<boolean> => {
    const s = sessions.get(key)!;
    if (now < s.activeUntil || !s.instanceId || s.waiting.length > 0) return false;
    const id = s.instanceId;
    s.instanceId = null;
    if (s.closes) {
      await pool.release(s.userId, id).catch((err) => {
        if (!(err instanceof PoolError)) throw err;
      });
      return true;
    }
    // Walked away: the last heartbeat is now; the reaper takes the instance at its deadline.
    try {
      const { idleDeadline } = await pool.heartbeat(s.userId, id);
      lastActive.set(id, now);
      queue.push(idleDeadline, { kind: "tick" });
    } catch (err) {
      if (!(err instanceof PoolError)) throw err;
    }
    return false;
  };

  let lastTickAt = -Infinity;
  const tick = async () => {
    lastTickAt = now;
    await pool.loop.tick();
    await pool.loop.launcher.settle();
    ticks++;
    await settleWaiting();
  };

  await tick();
  while (queue.size > 0 && queue.peekTime()! <= end) {
    now = queue.peekTime()!;
    let needTick = false;
    while (queue.size > 0 && queue.peekTime() === now) {
      const e = queue.pop()!.value;
      if (e.kind === "claim") {
        await claim(e.row);
        needTick = true;
      } else if (e.kind === "heartbeat") await heartbeat(e.key);
      else if (e.kind === "end") needTick = (await sessionEnd(e.key)) || needTick;
      // A periodic tick only fills a quiet gap: every tick re-reads the warm target anyway.
      else needTick = needTick || !e.periodic || now - lastTickAt >= options.tickEverySeconds * 1000;
    }
    if (needTick) await tick();
  }
  now = end;
  await tick();

  const lines = await new Ledger(store.db, config).lines({ from: start, to: end }, end);
  const hours = (l: { from: number; to: number }) => (l.to - l.from) / HOUR;
  const poolLines = lines.filter((l) => l.account === POOL_ACCOUNT);
  const ownerHours = lines.filter((l) => l.account !== POOL_ACCOUNT).reduce((s, l) => s + hours(l), 0);
  const reaped = await store.db.selectFrom("events").select(["instance_id", "at"]).where("kind", "=", "reaped").execute();
  const idleBeforeReap = reaped.reduce((s, e) => s + (Number(e.at) - (lastActive.get(e.instance_id!) ?? Number(e.at))) / HOUR, 0);
  const adaptive = "adaptive" in policies ? (policies as CostPolicies).adaptive : null;
  const error = adaptive?.calibration.forecastError(purposes[0]!.name);
  await store.close();

  const sorted = [...waits].sort((a, b) => a - b);
  const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    policy: policyName(options.policy),
    claims: rows.length,
    refused,
    warmShare: round(warm / rows.length),
    waitP50Seconds: round(percentile(sorted, 0.5), 1),
    waitP95Seconds: round(percentile(sorted, 0.95), 1),
    usedInstanceHours: round(ownerHours - idleBeforeReap, 2),
    warmPoolIdleInstanceHours: round(poolLines.reduce((s, l) => s + hours(l), 0), 2),
    idleBeforeReapInstanceHours: round(idleBeforeReap, 2),
    warmPoolIdleCost: round(poolLines.reduce((s, l) => s + l.cost, 0), 2),
    totalCost: round(lines.reduce((s, l) => s + l.cost, 0), 2),
    simulatedDays: round((end - start) / 86_400_000, 2),
    daily: [...days.values()].sort((a, b) => a.day.localeCompare(b.day)),
    maxWarmTarget,
    ...(error ? { forecastBias: round(error.bias, 3), forecastMeanAbsError: round(error.meanAbsError, 3) } : {}),
    ticks,
    wallSeconds: round(Number(process.hrtime.bigint() - wallStart) / 1e9, 2),
  };
}
