/** The benchmark's printed report: one row per target and store, the ratios, the refill, the goals. */
import type { RefillFigures } from "./pool-target";
import type { RoundFigures } from "./rounds";
import type { Spread } from "./stats";

type Figures = RoundFigures & Partial<RefillFigures>;

export interface TargetResult {
  target: "rstudio-pool" | "jupyterhub";
  store: string;
  fillSeconds: number;
  memory: { rssMb: number; peakMb: number };
  logBytes: number;
  rounds: Figures[];
  summary: Partial<Record<keyof Figures, Spread>>;
  version?: string;
  /** Set when this row is another checkout's build (`--baseline DIR`): the directory's name. */
  baseline?: string;
  windowsUs?: unknown[];
}

interface Result {
  date: string;
  machine: string;
  pinned: string;
  options: { rounds: number; hubRounds: number; users: number; seconds: number; coldTokens: number };
  elapsedSeconds: number;
  jupyterhub: string | Record<string, string>;
  results: TargetResult[];
}

const num = (x: number) => (!Number.isFinite(x) ? "–" : Math.abs(x) >= 100 ? Math.round(x).toLocaleString("en-US") : String(Math.round(x * 100) / 100));

/** "median (min–max)", or the median alone for a single round. */
function fmt(s: Spread | undefined): string {
  if (!s || !Number.isFinite(s.median)) return "–";
  return s.min === s.max ? num(s.median) : `${num(s.median)} (${num(s.min)}–${num(s.max)})`;
}

const med = (r: TargetResult | undefined, k: keyof Figures) => r?.summary[k]?.median ?? NaN;

export function printReport(res: Result): void {
  const out = (line = "") => process.stdout.write(`${line}\n`);
  out(`\nService benchmark, ${res.date.slice(0, 16).replace("T", " ")} UTC, ${res.machine}`);
  out(`${res.options.rounds} rounds (JupyterHub: ${res.options.hubRounds}) of ${res.options.users} warm claims (half at concurrency 4, half at 16), ${res.options.seconds} s of heartbeats each (16 in flight); ${res.pinned}.`);
  out("Each cell: median (min–max) over the rounds.\n");
  out("| target | store | claims/s c4 | claim p50 / p99 ms c4 | claims/s c16 | claim p99 ms c16 | server CPU ms/claim | heartbeats/s cached | heartbeats/s uncached | heartbeat p99 ms cached / uncached | server CPU ms/heartbeat uncached | RSS MB |");
  out("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of res.results) {
    const s = r.summary;
    const hub = r.target === "jupyterhub";
    out(
      `| ${hub ? `JupyterHub ${r.version ?? ""}`.trim() : r.baseline ? `rstudio-pool (baseline ${r.baseline})` : "rstudio-pool"} | ${r.store} | ${fmt(s.claimsPerSecondC4)} | ${num(med(r, "claimP50MsC4"))} / ${fmt(s.claimP99MsC4)} | ${fmt(s.claimsPerSecondC16)} | ${fmt(s.claimP99MsC16)} | ${fmt(s.cpuMsPerClaim)} | ${fmt(s.heartbeatsPerSecondWarm)} | ${hub ? "(no cache)" : fmt(s.heartbeatsPerSecondCold)} | ${num(med(r, "heartbeatP99MsWarm"))} / ${hub ? "–" : num(med(r, "heartbeatP99MsCold"))} | ${fmt(s.cpuMsPerHeartbeatCold)} | ${r.memory.rssMb} |`,
    );
  }

  const stores = [...new Set(res.results.map((r) => r.store))];
  const pairs = stores.map((st) => ({ st, pool: res.results.find((r) => r.store === st && r.target === "rstudio-pool" && !r.baseline), hub: res.results.find((r) => r.store === st && r.target === "jupyterhub") })).filter((p) => p.pool && p.hub);
  const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(1)}×` : "–");
  if (pairs.length) {
    out("\nrstudio-pool ÷ JupyterHub (medians):\n");
    out("| store | claims/s c4 | claims/s c16 | heartbeats/s cached | heartbeats/s uncached | CPU per claim (hub ÷ pool) |");
    out("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (const { st, pool, hub } of pairs) {
      out(`| ${st} | ${ratio(med(pool, "claimsPerSecondC4"), med(hub, "claimsPerSecondC4"))} | ${ratio(med(pool, "claimsPerSecondC16"), med(hub, "claimsPerSecondC16"))} | ${ratio(med(pool, "heartbeatsPerSecondWarm"), med(hub, "heartbeatsPerSecondWarm"))} | ${ratio(med(pool, "heartbeatsPerSecondCold"), med(hub, "heartbeatsPerSecondWarm"))} | ${ratio(med(hub, "cpuMsPerClaim"), med(pool, "cpuMsPerClaim"))} |`);
    }
  }

  const pools = res.results.filter((r) => r.target === "rstudio-pool" && !r.baseline);
  if (pools.length) {
    out(`\nRefill after releasing all ${res.options.users} (seconds after the first release; medians):\n`);
    out("| store | refill s | releases sent by | last termination | first launch asked | last launched | last running | launch ms (mean) | ready ms (mean) |");
    out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const r of pools) {
      const s = r.summary;
      out(`| ${r.store} | ${fmt(s.refillSeconds)} | ${num(med(r, "releaseSeconds"))} | ${num(med(r, "lastTerminatedS"))} | ${num(med(r, "firstLaunchRequestedS"))} | ${num(med(r, "lastLaunchedS"))} | ${num(med(r, "lastRunningS"))} | ${num(med(r, "meanLaunchMs"))} | ${num(med(r, "meanReadyMs"))} |`);
    }
  }

  out("\nGoals (issue #12, medians):");
  const sqlite = pools.find((r) => r.store === "sqlite");
  const goal = (ok: boolean | null, text: string) => out(`- ${ok === null ? "not measured" : ok ? "met" : "NOT met"}: ${text}`);
  goal(sqlite ? med(sqlite, "cpuMsPerClaim") <= 1 : null, `warm claim ≤ 1 ms of server CPU on SQLite (${num(med(sqlite, "cpuMsPerClaim"))} ms)`);
  goal(sqlite ? med(sqlite, "claimP99MsC4") < 25 : null, `claim p99 at concurrency 4 < 25 ms on SQLite (${num(med(sqlite, "claimP99MsC4"))} ms)`);
  for (const r of pools) goal(r.memory.rssMb < 150, `RSS with ${res.options.users} warm spares < 150 MB on ${r.store} (${r.memory.rssMb} MB)`);
  for (const st of ["sqlite", "postgres"]) {
    const p = pairs.find((x) => x.st === st);
    const c = p ? Math.min(med(p.pool, "claimsPerSecondC4") / med(p.hub, "claimsPerSecondC4"), med(p.pool, "claimsPerSecondC16") / med(p.hub, "claimsPerSecondC16")) : NaN;
    const h = p ? Math.min(med(p.pool, "heartbeatsPerSecondWarm"), med(p.pool, "heartbeatsPerSecondCold")) / med(p.hub, "heartbeatsPerSecondWarm") : NaN;
    goal(p ? c >= 5 : null, `claims ≥ 5× JupyterHub at concurrency 4 and 16 on ${st} (${p ? c.toFixed(1) : "–"}×)`);
    goal(p ? h >= 10 : null, `heartbeats ≥ 10× JupyterHub on ${st}, uncached included (${p ? h.toFixed(1) : "–"}×)`);
  }
}
