/**
 * Crash safety, measured: runs the real backend (`node dist/backend/cli.js serve`, local
 * provider, placeholder runtime, SQLite), drives claims, heartbeats, releases and idle reaps at
 * it, SIGKILLs it at random points, restarts it on the same data dir, and at the end checks
 * what the pool recorded against what really ran (the processes, sampled from /proc):
 *  - orphans: tagged processes that no live row accounts for;
 *  - duplicate launches: one instance id seen with two process groups;
 *  - lost: rows the pool marked lost (nothing but the pool ever ends an instance here);
 *  - double owners: an instance assigned to two users, or a user holding two live instances;
 *  - billing: each instance's billed span (the ledger's) against its process lifetime.
 * Used by test/integration/crash-harness.test.ts (a few kill points) and `npm run crash`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadInstanceHistories } from "../../backend/store/ledger-history";
import { taggedProcesses } from "../../backend/providers/local/processes";
import { openStore } from "../../backend/store/db";
import { migrateToLatest } from "../../backend/store/migrate";
import { hashToken, insertToken, insertUser, newToken } from "../../backend/store/users";
import { runCli, startServe, type ServeHandle } from "./cli";
import { tempDir } from "./builders";

export interface CrashOptions {
  killPoints: number;
  /** Time from "listening" to the kill: uniform in [min, max] ms. */
  minRunMs?: number;
  maxRunMs?: number;
  users?: number;
  seed?: number;
  tickMs?: number;
  log?: (line: string) => void;
}

export interface CrashReport {
  killPoints: number;
  instances: number;
  launches: number;
  claims: number;
  releases: number;
  reaped: number;
  orphans: string[];
  duplicateLaunches: string[];
  lost: string[];
  doubleOwners: string[];
  /** Instances whose billed span differs from their process lifetime by more than the tolerance. */
  /**
   * Instances billed off by more than the tolerance, each with its history as offsets from the
   * process's end as /proc showed it (`kind@+ms`) and the nearest SIGKILL, so a miss can be read.
   */
  billingMismatches: Array<{ id: string; startDiffMs: number; endDiffMs: number | null; history?: string[]; nearestKillMs?: number | null }>;
  billingToleranceMs: number;
  maxStartDiffMs: number;
  maxEndDiffMs: number;
  leftAfterDrain: number;
  wallMs: number;
}

/** A small deterministic generator, so a failing run can be repeated with its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Process lifetimes as /proc shows them: start from the kernel, end when last seen. */
class ProcessSampler {
  readonly seen = new Map<string, Map<number, { start: number; lastSeen: number }>>();
  private timer: NodeJS.Timeout | null = null;
  private readonly bootMs: number;
  private readonly hz = 100;

  constructor(private readonly home: string, readonly periodMs = 50) {
    // /proc/uptime has 10 ms resolution; /proc/stat's btime is whole seconds (up to 1 s off).
    const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    this.bootMs = Date.now() - uptime * 1000;
  }

  private startOf(pid: number): number | null {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return this.bootMs + (Number(fields[19]) / this.hz) * 1000;
    } catch {
      return null;
    }
  }

  sample(): void {
    const now = Date.now();
    for (const p of taggedProcesses({ home: this.home })) {
      let byPid = this.seen.get(p.instanceId);
      if (!byPid) this.seen.set(p.instanceId, (byPid = new Map()));
      const known = byPid.get(p.pid);
      if (known) known.lastSeen = now;
      else byPid.set(p.pid, { start: this.startOf(p.pid) ?? now, lastSeen: now });
    }
  }

  start(): void {
    this.timer = setInterval(() => this.sample(), this.periodMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

interface Counters {
  claims: number;
  releases: number;
  /** When each SIGKILL was sent. */
  kills: number[];
}

/** One user: claim, use it a little (heartbeats), then release it or walk away (idle reap). */
async function userLoop(url: string, token: string, random: () => number, stop: () => boolean, c: Counters): Promise<void> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const call = async (method: string, p: string, body?: string) => {
    try {
      const res = await fetch(`${url}${p}`, { method, headers, body, signal: AbortSignal.timeout(5000) });
      return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, any> | null };
    } catch {
      return { status: 0, body: null };
    }
  };
  while (!stop()) {
    const claim = await call("POST", "/v1/claims", "{}");
    const id = claim.body?.instance?.instanceId as string | undefined;
    if (!id) {
      await sleep(100 + random() * 300);
      continue;
    }
    c.claims++;
    const beats = Math.floor(random() * 4);
    for (let i = 0; i < beats && !stop(); i++) {
      await sleep(100 + random() * 300);
      await call("POST", `/v1/instances/${id}/heartbeat`);
    }
    if (random() < 0.6) {
      if ((await call("DELETE", `/v1/instances/${id}`)).status === 200) c.releases++;
    } else {
      await sleep(500 + random() * 1500); // walk away: the idle reaper ends it
    }
  }
}

/** Users and tokens written straight to the store (the CLI would cost a process start each). */
async function addUsers(dataDir: string, users: string[]): Promise<string[]> {
  const store = openStore({ databaseUrl: null, dataDir, poolSize: 1 });
  try {
    await migrateToLatest(store);
    const tokens: string[] = [];
    for (const u of users) {
      const t = newToken();
      await insertUser(store.db, u, false, Date.now());
      await insertToken(store.db, u, hashToken(t), Date.now());
      tokens.push(t);
    }
    return tokens;
  } finally {
    await store.close();
  }
}

export async function runCrashHarness(options: CrashOptions): Promise<CrashReport> {
  const started = Date.now();
  const say = options.log ?? (() => undefined);
  const random = rng(options.seed ?? 20261201);
  // The default tick: billing is checked to within one tick of what the processes did.
  const tickMs = options.tickMs ?? 1000;
  const dataDir = tempDir("crash-");
  const configFile = path.join(dataDir, "pool.yaml");
  writeFileSync(
    configFile,
    [
      "pool: { name: crash-pool, maxInstances: 6 }",
      "purposes:",
      "  - name: rstudio",
      "    minFree: 2",
      "    max: 6",
      "    idleTimeoutSeconds: 2",
      "    bootTimeoutSeconds: 30",
      "    hourlyPrice: 3.6",
      "",
    ].join("\n"),
  );
  const env = {
    POOL_DATA_DIR: dataDir,
    POOL_CONFIG: configFile,
    POOL_LOCAL_RUNTIME: "placeholder",
    POOL_TICK_MS: String(tickMs),
    POOL_RECONCILE_MS: "1000",
    LOG_LEVEL: "info",
  };
  const users = Array.from({ length: options.users ?? 4 }, (_, i) => `user${i}`);
  const tokens = await addUsers(dataDir, users);
  const sampler = new ProcessSampler(dataDir);
  sampler.start();
  const counters: Counters = { claims: 0, releases: 0, kills: [] };
  const minRun = options.minRunMs ?? 300;
  const maxRun = options.maxRunMs ?? 3000;
  let server: ServeHandle | null = null;
  try {
    for (let k = 0; k < options.killPoints; k++) {
      server = await startServe(env);
      let stopping = false;
      const loops = tokens.map((t) => userLoop(server!.url, t, random, () => stopping, counters));
      const runMs = minRun + random() * (maxRun - minRun);
      await sleep(runMs);
      server.child.kill("SIGKILL");
      counters.kills.push(Date.now());
      await new Promise<void>((r) => (server!.child.exitCode !== null || server!.child.signalCode !== null ? r() : server!.child.once("exit", () => r())));
      stopping = true;
      await Promise.all(loops);
      say(`kill point ${k + 1}/${options.killPoints} after ${Math.round(runMs)} ms`);
    }

    // The last start: no more traffic; let reconciling, reaping and the warm pool settle.
    server = await startServe(env);
    const store = openStore({ databaseUrl: null, dataDir, poolSize: 1 });
    try {
      const deadline = Date.now() + 60_000;
      let calm = 0;
      while (Date.now() < deadline && calm < 3) {
        await sleep(1000);
        const busy = await store.db.selectFrom("instances").select("id").where("state", "in", ["launching", "releasing"]).execute();
        const booting = await store.db.selectFrom("instances").select("id").where("state", "=", "booting").execute();
        calm = busy.length + booting.length === 0 ? calm + 1 : 0;
      }
      await server.stop();
      server = null;
      sampler.sample();
      return await check(store, dataDir, env, sampler, counters, options.killPoints, tickMs, started);
    } finally {
      await store.close();
    }
  } finally {
    sampler.stop();
    if (server) await server.stop();
  }
}

async function check(
  store: ReturnType<typeof openStore>,
  dataDir: string,
  env: Record<string, string>,
  sampler: ProcessSampler,
  counters: Counters,
  killPoints: number,
  tickMs: number,
  started: number,
): Promise<CrashReport> {
  const db = store.db;
  const rows = await db.selectFrom("instances").select(["id", "state", "owner_id", "purpose"]).execute();
  const live = new Map(rows.filter((r) => ["launching", "booting", "running", "releasing"].includes(r.state)).map((r) => [r.id, r]));
  const running = taggedProcesses({ home: dataDir });
  const orphans = running.filter((p) => !live.has(p.instanceId)).map((p) => `${p.instanceId} (pid ${p.pid})`);
  const duplicateLaunches = [...sampler.seen].filter(([, pids]) => pids.size > 1).map(([id, pids]) => `${id}: pids ${[...pids.keys()].join(", ")}`);
  const lost = rows.filter((r) => r.state === "lost" || r.state === "interrupted").map((r) => r.id);

  const doubleOwners: string[] = [];
  const assigned = await db.selectFrom("events").select(["instance_id", "user_id"]).where("kind", "=", "assigned").execute();
  const ownersOf = new Map<string, Set<string>>();
  for (const e of assigned) {
    if (!e.instance_id || !e.user_id) continue;
    if (!ownersOf.has(e.instance_id)) ownersOf.set(e.instance_id, new Set());
    ownersOf.get(e.instance_id)!.add(e.user_id);
  }
  for (const [id, owners] of ownersOf) if (owners.size > 1) doubleOwners.push(`${id} assigned to ${[...owners].join(" and ")}`);
  const held = new Map<string, number>();
  for (const r of live.values()) if (r.owner_id && r.state !== "releasing") held.set(`${r.owner_id}/${r.purpose}`, (held.get(`${r.owner_id}/${r.purpose}`) ?? 0) + 1);
  for (const [k, n] of held) if (n > 1) doubleOwners.push(`${k} holds ${n} live instances`);

  // Billing: the ledger's billed span against the process's life, as /proc showed it.
  const now = Date.now();
  const histories = await loadInstanceHistories(db, { from: 0, to: now + 1 });
  const tolerance = tickMs + sampler.periodMs * 2;
  const billingMismatches: CrashReport["billingMismatches"] = [];
  let maxStart = 0;
  let maxEnd = 0;
  for (const h of histories) {
    const pids = sampler.seen.get(h.id);
    if (!pids || pids.size === 0) {
      if (h.billStart !== null && h.endedAt !== null && h.endedAt - h.billStart > tolerance) billingMismatches.push({ id: h.id, startDiffMs: Number.NaN, endDiffMs: null });
      continue;
    }
    const procStart = Math.min(...[...pids.values()].map((p) => p.start));
    const stillRunning = running.some((p) => p.instanceId === h.id);
    const procEnd = stillRunning ? null : Math.max(...[...pids.values()].map((p) => p.lastSeen)) + sampler.periodMs / 2;
    const startDiff = h.billStart === null ? Number.POSITIVE_INFINITY : h.billStart - procStart;
    const endDiff = procEnd === null || h.endedAt === null ? (procEnd === null && h.endedAt === null ? 0 : Number.POSITIVE_INFINITY) : h.endedAt - procEnd;
    if (Number.isFinite(startDiff)) maxStart = Math.max(maxStart, Math.abs(startDiff));
    if (Number.isFinite(endDiff)) maxEnd = Math.max(maxEnd, Math.abs(endDiff));
    if (Math.abs(startDiff) > tolerance || Math.abs(endDiff) > tolerance) {
      const ref = procEnd ?? procStart;
      const events = await db.selectFrom("events").select(["kind", "at"]).where("instance_id", "=", h.id).orderBy("id").execute();
      const history = events.map((e) => `${e.kind}@${Number(e.at) - ref >= 0 ? "+" : ""}${Number(e.at) - ref}`);
      const nearest = counters.kills.reduce<number | null>((best, k) => (best === null || Math.abs(k - ref) < Math.abs(best) ? k - ref : best), null);
      billingMismatches.push({ id: h.id, startDiffMs: Math.round(startDiff), endDiffMs: Number.isFinite(endDiff) ? Math.round(endDiff) : null, history, nearestKillMs: nearest });
    }
  }
  const kinds = await db.selectFrom("events").select(["kind"]).select((eb) => eb.fn.countAll<number>().as("n")).groupBy("kind").execute();
  const count = (k: string) => Number(kinds.find((x) => x.kind === k)?.n ?? 0);

  // Leave nothing behind: drain, and count what is still running after it.
  runCli(["pool", "drain", "--wait", "60"], env);
  const leftAfterDrain = taggedProcesses({ home: dataDir }).length;
  for (const p of taggedProcesses({ home: dataDir })) {
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  return {
    killPoints,
    instances: rows.length,
    launches: count("launched"),
    claims: counters.claims,
    releases: counters.releases,
    reaped: count("reaped"),
    orphans,
    duplicateLaunches,
    lost,
    doubleOwners,
    billingMismatches,
    billingToleranceMs: tolerance,
    maxStartDiffMs: Math.round(maxStart),
    maxEndDiffMs: Math.round(maxEnd),
    leftAfterDrain,
    wallMs: Date.now() - started,
  };
}
