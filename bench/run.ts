/**
 * `npm run bench [-- options]`: the service benchmark. Drives the real `rstudio-pool serve`
 * (and with --vs-jupyterhub, JupyterHub with an instant spawner) from a separate, pinned load
 * generator, for several rounds, and prints the median and spread of each figure. The full
 * result goes to bench/results/latest.json. Benchmarks measure; they never fail a build.
 *
 *   --rounds N        rounds of our pool per store (3)
 *   --hub-rounds N    rounds of JupyterHub per store (2: it is the slowest part of a full run)
 *   --users N         warm spares = users; each round claims all of them, half at concurrency 4
 *                     and half at 16, then releases them all (1000)
 *   --seconds S       length of each heartbeat phase (5)
 *   --cold-tokens N   distinct tokens for the uncached heartbeats (20000; the cache holds 10,000)
 *   --stores LIST     sqlite,postgres (both; PostgreSQL is skipped loudly when absent)
 *   --vs-jupyterhub   the same load against JupyterHub, on the same stores
 *   --no-pin          do not pin the server and the load generator to separate CPUs
 *   --cpu-prof DIR    write a V8 CPU profile of our server to DIR (the server then runs from the
 *                     TypeScript sources through tsx, so the profile names our files); cut a phase
 *                     out of it with bench/profile-summary.ts
 *   --out FILE        where the JSON result goes (bench/results/latest.json)
 *   --baseline DIR    also bench another built checkout (say an older commit's, after its
 *                     `npm run build`) on each store, just before this one, under the same load
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { postgresBaseUrl, type StoreKind } from "../test/support/stores";
import { jupyterHubProblem, JupyterHubTarget } from "./jupyterhub-target";
import { detectPinning, LoadGenerator, machineLine, type Pinning } from "./machine";
import { PoolTarget, buildInstanceServer, type RefillFigures } from "./pool-target";
import { printReport, type TargetResult } from "./report";
import { runRound, type RoundFigures, type RoundOutcome } from "./rounds";
import { summarise } from "./stats";

function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const ROUNDS = Number(option("rounds", "3"));
const HUB_ROUNDS = Number(option("hub-rounds", "2"));
const USERS = Number(option("users", "1000"));
const SECONDS = Number(option("seconds", "5"));
const COLD_TOKENS = Number(option("cold-tokens", "20000"));
const OUT = path.resolve(option("out", path.join(__dirname, "results", "latest.json")));
const BASELINE = flag("baseline") ? path.resolve(option("baseline", "")) : null;
/** A quiet moment after the first fill before round 1's claims (refills between rounds come in small batches). */
const FILL_SETTLE_MS = 3000;
const CPU_PROF = flag("cpu-prof") ? path.resolve(option("cpu-prof", "bench/results/profiles")) : null;

/** Targets running now: an interrupted run still stops them (our instances outlive the server by design). */
const active = new Set<{ stop(): Promise<void> }>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the servers and their instances...\n`);
    void Promise.allSettled([...active].map((t) => t.stop())).then(() => process.exit(130));
  });
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function benchPool(kind: StoreKind, pin: Pinning | null, load: LoadGenerator, instanceServer: string, root?: string): Promise<TargetResult> {
  const t = new PoolTarget({ store: kind, users: USERS, coldTokens: COLD_TOKENS, cpus: pin?.server ?? null, instanceServer, cpuProfileDir: root ? null : CPU_PROF, root });
  active.add(t);
  try {
    log(`[pool/${kind}] starting the server and filling ${USERS} spares...`);
    const { fillSeconds } = await t.start();
    const memory = t.memory();
    log(`[pool/${kind}] full after ${fillSeconds} s; RSS ${memory.rssMb} MB`);
    // The spares count as running once their rows say so, while the tick that marked all 1,000
    // at once is still finishing (half a second of CPU): that is the fill's, not the claims'.
    await new Promise((r) => setTimeout(r, FILL_SETTLE_MS));
    const rounds: Array<RoundFigures & RefillFigures> = [];
    const windows: RoundOutcome["windowsUs"][] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const { figures, releaseStartedAt, releaseEndedAt, windowsUs } = await runRound(t, load, { seconds: SECONDS, heartbeatConcurrency: 16 });
      const refill = await t.measureRefill(releaseStartedAt, releaseEndedAt);
      rounds.push({ ...figures, ...refill });
      windows.push(windowsUs);
      log(`[pool/${kind}] round ${r + 1}/${ROUNDS}: ${figures.claimsPerSecondC4}/${figures.claimsPerSecondC16} claims/s, ${figures.cpuMsPerClaim} ms CPU/claim, ${figures.heartbeatsPerSecondWarm}/${figures.heartbeatsPerSecondCold} heartbeats/s warm/cold, refill ${refill.refillSeconds} s`);
    }
    return { target: "rstudio-pool", ...(root ? { baseline: path.basename(root) } : {}), store: kind, fillSeconds, memory, logBytes: t.logBytes(), rounds, summary: summarise(rounds), windowsUs: windows };
  } finally {
    active.delete(t);
    await t.stop();
  }
}

async function benchJupyterHub(kind: StoreKind, pin: Pinning | null, load: LoadGenerator, instanceServer: string): Promise<TargetResult> {
  const t = new JupyterHubTarget({ store: kind, users: USERS, cpus: pin?.server ?? null, instanceServer });
  active.add(t);
  try {
    log(`[jupyterhub/${kind}] starting JupyterHub and creating ${USERS} users...`);
    await t.start();
    const memory = t.memory();
    const rounds: RoundFigures[] = [];
    for (let r = 0; r < HUB_ROUNDS; r++) {
      const { figures } = await runRound(t, load, { seconds: SECONDS, heartbeatConcurrency: 16 });
      await t.waitStopped();
      rounds.push(figures);
      log(`[jupyterhub/${kind}] round ${r + 1}/${HUB_ROUNDS}: ${figures.claimsPerSecondC4}/${figures.claimsPerSecondC16} claims/s, ${figures.cpuMsPerClaim} ms CPU/claim, ${figures.heartbeatsPerSecondWarm} heartbeats/s`);
    }
    return { target: "jupyterhub", store: kind, fillSeconds: NaN, memory, logBytes: 0, rounds, summary: summarise(rounds), version: t.version };
  } finally {
    active.delete(t);
    await t.stop();
  }
}

async function main(): Promise<void> {
  const date = new Date().toISOString();
  const started = Date.now();
  const pin = flag("no-pin") ? null : detectPinning();
  if (!pin) log("!!! the server and the load generator are NOT pinned to separate CPUs (no taskset, one CPU, or --no-pin)");
  let stores = option("stores", "sqlite,postgres").split(",") as StoreKind[];
  if (stores.includes("postgres") && !postgresBaseUrl()) {
    log("!!! PostgreSQL is not available (install it: apt-get install postgresql): benchmarking SQLite only");
    stores = stores.filter((s) => s !== "postgres");
  }
  const vsHub = flag("vs-jupyterhub");
  const hubProblems = new Map(stores.map((k) => [k, vsHub ? jupyterHubProblem(k) : null]));
  for (const [k, problem] of hubProblems) if (problem) log(`!!! JupyterHub on ${k} SKIPPED: ${problem}`);

  const work = mkdtempSync(path.join(os.tmpdir(), "rsp-bench-bin-"));
  const instanceServer = buildInstanceServer(work);
  const load = LoadGenerator.start(pin?.load ?? null);
  const results: TargetResult[] = [];
  try {
    for (const kind of stores) {
      if (BASELINE) results.push(await benchPool(kind, pin, load, instanceServer, BASELINE));
      results.push(await benchPool(kind, pin, load, instanceServer));
      if (vsHub && !hubProblems.get(kind)) results.push(await benchJupyterHub(kind, pin, load, instanceServer));
    }
  } finally {
    load.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const result = {
    date,
    machine: machineLine(),
    pinned: pin ? `server side on CPU ${pin.server}, load generator on CPU ${pin.load}` : "not pinned",
    options: { rounds: ROUNDS, hubRounds: HUB_ROUNDS, users: USERS, seconds: SECONDS, coldTokens: COLD_TOKENS },
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
    jupyterhub: vsHub ? Object.fromEntries([...hubProblems].map(([k, p]) => [k, p ? `skipped: ${p}` : "measured"])) : "not asked (--vs-jupyterhub)",
    results,
  };
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
  printReport(result);
  log(`\nFull result: ${path.relative(process.cwd(), OUT)} (the run took ${result.elapsedSeconds} s)`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
