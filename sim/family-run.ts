/**
 * `node --import tsx sim/family-run.ts [NAME...] [--table] [--adaptive-only] [--policies=P,...]`: runs the adaptive pool on each
 * trace of the family (sim/family.ts), then finds the cheapest static pool and the cheapest
 * schedule-based pool (spares in office hours only) that reach the same warm share, and the
 * cheapest static pool reaching the service level. Prints one JSON line per trace, and with
 * `--table` the Markdown table of docs/costs.md. `--policies=schedule:15,static:20` runs only
 * those policies on each trace (one JSON line per run; a schedule uses the trace's offices).
 *
 * Results are deterministic, so each run is cached by trace and policy in
 * $SIM_CACHE_DIR (default: the system's temp directory), outside the repository; the
 * 1,000-person traces are generated in memory from their parameters, never committed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DEFAULT_SIM, policyName, simulate, type SimPolicy, type SimResult } from "./engine";
import { FAMILY, familyRows, officeZones, type FamilyTrace } from "./family";
import { DEFAULT_OFFICE_HOURS } from "./schedule";
import { parsePolicy } from "./policy-arg";
import type { TraceRow } from "./trace";

const TARGET = DEFAULT_SIM.serviceLevel;
const MAX_SPARES = 128;

export interface FamilyResult {
  trace: string;
  claims: number;
  adaptive: SimResult;
  uncalibrated?: SimResult;
  /** Cheapest static pool reaching adaptive's warm share (null: none up to MAX_SPARES). */
  staticSameShare: SimResult | null;
  /** Cheapest static pool reaching the service level. */
  staticTarget: SimResult | null;
  /** Cheapest schedule-based pool reaching adaptive's share, or the best share it gets. */
  schedule: SimResult & { reached: boolean };
}

function cacheFile(): string {
  const dir = process.env.SIM_CACHE_DIR ?? path.join(tmpdir(), "rstudio-pool-sim");
  mkdirSync(dir, { recursive: true });
  return path.join(dir, "results.json");
}

class RunCache {
  private readonly file = cacheFile();
  private readonly data: Record<string, SimResult> = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, "utf8")) as Record<string, SimResult>) : {};

  async run(t: FamilyTrace, rows: TraceRow[], policy: SimPolicy, cache: boolean): Promise<SimResult> {
    const key = `${createHash("sha256").update(JSON.stringify(t.options)).digest("hex").slice(0, 12)}:${t.name}:${JSON.stringify(policy)}`;
    if (cache && this.data[key]) return this.data[key]!;
    const r = await simulate(rows, { ...DEFAULT_SIM, policy });
    process.stderr.write(`  ${t.name} ${policyName(policy)}: warm ${r.warmShare} idle $${r.warmPoolIdleCost} (${r.wallSeconds} s)\n`);
    this.data[key] = r;
    writeFileSync(this.file, JSON.stringify(this.data));
    return r;
  }
}

/**
 * Smallest N in [1, max] whose run reaches `share` (shares grow with N). It starts at `guess`
 * (runs are slow on big traces), gallops up by half again until one reaches, then bisects.
 */
async function cheapest(run: (n: number) => Promise<SimResult>, share: number, guess: number, max = MAX_SPARES): Promise<SimResult | null> {
  let lo = 0;
  let hi = Math.max(1, Math.min(max, guess));
  let hit: SimResult | null = null;
  for (;;) {
    const r = await run(hi);
    if (r.warmShare >= share) {
      hit = r;
      break;
    }
    lo = hi;
    if (hi >= max) return null;
    hi = Math.min(max, Math.ceil(hi * 1.5));
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const r = await run(mid);
    if (r.warmShare >= share) {
      hi = mid;
      hit = r;
    } else lo = mid;
  }
  return hit;
}

export async function runFamilyTrace(t: FamilyTrace, cache: RunCache, withUncalibrated: boolean): Promise<FamilyResult> {
  const rows = familyRows(t.name);
  const adaptive = await cache.run(t, rows, { kind: "adaptive" }, false);
  const uncalibrated = withUncalibrated ? await cache.run(t, rows, { kind: "adaptive", calibrate: false }, true) : undefined;
  const staticRun = (n: number) => cache.run(t, rows, { kind: "static", warm: n }, true);
  const hours = { zones: officeZones(t), ...DEFAULT_OFFICE_HOURS };
  const scheduleRun = (n: number) => cache.run(t, rows, { kind: "schedule", warm: n, hours }, true);
  // Static pools need somewhat fewer spares than adaptive's peak (it holds its peak only for the rush).
  const guess = Math.max(1, Math.round(adaptive.maxWarmTarget * 0.6));
  const staticSameShare = await cheapest(staticRun, adaptive.warmShare, guess);
  const staticTarget = await cheapest(staticRun, TARGET, staticSameShare ? Number(staticSameShare.policy.split(":")[1]) : guess);
  let schedule: SimResult & { reached: boolean };
  const staticN = staticSameShare ? Number(staticSameShare.policy.split(":")[1]) : MAX_SPARES;
  const hit = await cheapest(scheduleRun, adaptive.warmShare, staticN, Math.min(MAX_SPARES, 2 * staticN));
  if (hit) schedule = { ...hit, reached: true };
  else {
    // It never gets there (claims outside office hours are never warm): report the smallest
    // pool that gets the best share it can, i.e. as many spares as the static pool needs.
    schedule = { ...(await scheduleRun(staticN)), reached: false };
  }
  return { trace: t.name, claims: rows.length, adaptive, uncalibrated, staticSameShare, staticTarget, schedule };
}

const money = (x: number) => `$${x.toFixed(2)}`;

export function familyTable(results: FamilyResult[]): string {
  const lines = [
    "| trace | claims | adaptive warm | wait p95 s | adaptive idle | cheapest static ≥ same share | its idle | adaptive ÷ static | schedule (office hours) | its warm | its idle | static ≥ 95% | goal |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    const a = r.adaptive;
    const s = r.staticSameShare;
    const ratio = s && s.warmPoolIdleCost > 0 ? a.warmPoolIdleCost / s.warmPoolIdleCost : null;
    const met = a.warmShare >= TARGET && ratio !== null && ratio <= 0.5;
    lines.push(
      `| ${r.trace} | ${r.claims} | ${(a.warmShare * 100).toFixed(1)}% | ${a.waitP95Seconds} | ${money(a.warmPoolIdleCost)} | ${s ? `${s.policy} (${(s.warmShare * 100).toFixed(1)}%, p95 ${s.waitP95Seconds} s)` : "none ≤ 128"} | ${s ? money(s.warmPoolIdleCost) : "–"} | ${ratio === null ? "–" : `${(ratio * 100).toFixed(0)}%`} | ${r.schedule.policy}${r.schedule.reached ? "" : " (never reaches it)"} | ${(r.schedule.warmShare * 100).toFixed(1)}% | ${money(r.schedule.warmPoolIdleCost)} | ${r.staticTarget ? `${r.staticTarget.policy}, ${money(r.staticTarget.warmPoolIdleCost)}` : "–"} | ${met ? "met" : "**missed**"} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const names = args.filter((a) => !a.startsWith("--"));
  const traces = names.length ? names.map((n) => FAMILY.find((f) => f.name === n) ?? (() => { throw new Error(`unknown trace "${n}"`); })()) : FAMILY;
  const cache = new RunCache();
  const results: FamilyResult[] = [];
  const only = args.find((a) => a.startsWith("--policies="))?.slice("--policies=".length);
  for (const t of traces) {
    if (only) {
      const rows = familyRows(t.name);
      for (const p of only.split(",")) process.stdout.write(`${JSON.stringify({ trace: t.name, run: await cache.run(t, rows, parsePolicy(p, officeZones(t)), true) })}\n`);
      continue;
    }
    if (args.includes("--adaptive-only")) {
      process.stdout.write(`${JSON.stringify({ trace: t.name, adaptive: await cache.run(t, familyRows(t.name), { kind: "adaptive" }, true) })}\n`);
      continue;
    }
    const r = await runFamilyTrace(t, cache, args.includes("--uncalibrated"));
    results.push(r);
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
  if (args.includes("--table")) process.stdout.write(`\n${familyTable(results)}\n`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  });
}
