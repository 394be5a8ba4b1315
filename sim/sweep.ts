/**
 * `node --import tsx sim/sweep.ts TRACE [N...]`: runs static:N for each N and adaptive on a
 * trace, one JSON line each, then a Markdown table (docs/benchmarks.md is made from it).
 */
import { readFileSync } from "node:fs";
import { DEFAULT_SIM, simulate, type SimPolicy, type SimResult } from "./engine";
import { parseTrace } from "./trace";

async function main(): Promise<void> {
  const [file, ...ns] = process.argv.slice(2);
  if (!file) throw new Error("usage: sweep.ts TRACE [N...]");
  const rows = parseTrace(readFileSync(file, "utf8"));
  const policies: SimPolicy[] = [{ kind: "adaptive" }, ...(ns.length ? ns : ["2", "4", "6", "8", "10", "12"]).map((n) => ({ kind: "static" as const, warm: Number(n) }))];
  const results: SimResult[] = [];
  for (const policy of policies) {
    const r = await simulate(rows, { ...DEFAULT_SIM, policy });
    results.push(r);
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
  process.stdout.write("\n| policy | warmShare | wait p50 s | wait p95 s | used h | warm-idle h | idle-before-reap h | warm-idle cost | total cost | wall s |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (const r of results) {
    process.stdout.write(`| ${r.policy} | ${r.warmShare.toFixed(3)} | ${r.waitP50Seconds} | ${r.waitP95Seconds} | ${r.usedInstanceHours.toFixed(0)} | ${r.warmPoolIdleInstanceHours.toFixed(0)} | ${r.idleBeforeReapInstanceHours.toFixed(0)} | $${r.warmPoolIdleCost.toFixed(2)} | $${r.totalCost.toFixed(2)} | ${r.wallSeconds} |\n`);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
