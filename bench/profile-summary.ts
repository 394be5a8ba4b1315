/**
 * Where the server's CPU went during one phase of a benchmark run: cuts the phase's time
 * window out of a V8 CPU profile (`npm run bench -- --cpu-prof DIR`) and sums the samples by
 * what they were doing (the first frame, from the leaf up, that belongs to a known part).
 *
 *   node --import tsx bench/profile-summary.ts PROFILE.cpuprofile [--result bench/results/latest.json]
 *        [--store sqlite] [--phase claims|heartbeatsWarm|heartbeatsCold] [--top 25]
 * (Node writes one profile per thread; the main thread's is the large one.)
 */
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const PARTS: Array<[RegExp, string]> = [
  [/node_modules\/better-sqlite3\//, "SQLite (statements running in better-sqlite3)"],
  [/node_modules\/(pg|pg-protocol|pg-pool|pg-types|pgpass)\//, "PostgreSQL client (pg)"],
  [/node_modules\/kysely\//, "Kysely (building and running queries)"],
  [/node_modules\/(pino|sonic-boom|fast-redact|thread-stream|on-exit-leak-free|quick-format-unescaped|fast-safe-stringify)\//, "logging (pino)"],
  [/node_modules\/prom-client\//, "metrics (prom-client)"],
  [/node_modules\/zod\//, "validation (zod)"],
  [/node_modules\//, "Express, body parser and other HTTP middleware"],
  [/backend\/providers\/local\//, "local provider (state files, processes)"],
  [/backend\/store\//, "our store code"],
  [/backend\/pool\//, "our pool code"],
  [/backend\/api\//, "our API code"],
  [/backend\//, "other backend code"],
];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error("usage: profile-summary.ts PROFILE.cpuprofile [--result FILE] [--store sqlite] [--phase claims]");
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const result = JSON.parse(readFileSync(arg("result", "bench/results/latest.json"), "utf8")) as {
    options: { users: number };
    results: Array<{ target: string; store: string; windowsUs?: Array<Record<string, [number, number]>> }>;
  };
  const store = arg("store", "sqlite");
  const phase = arg("phase", "claims");
  const target = result.results.find((r) => r.target === "rstudio-pool" && r.store === store);
  if (!target?.windowsUs) throw new Error(`no phase windows for rstudio-pool on ${store} in the result file`);
  const keys = phase === "claims" ? ["claimsC4", "claimsC16"] : [phase];
  const windows = target.windowsUs.flatMap((w) => keys.map((k) => w[k]!));
  const inWindow = (t: number) => windows.some(([a, b]) => t >= a && t <= b);

  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const partOf = (id: number): string => {
    const leaf = byId.get(id)!.callFrame.functionName;
    if (leaf === "(idle)" || leaf === "(program)" || leaf === "(garbage collector)") return leaf;
    // better-sqlite3's statements run in native code, sampled as their JS caller: Kysely's driver.
    if (leaf === "executeQuery" && /kysely\/dist\/cjs\/dialect\/sqlite\//.test(byId.get(id)!.callFrame.url)) return "SQLite (statements running in better-sqlite3)";
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const url = byId.get(cur)!.callFrame.url;
      for (const [re, part] of PARTS) if (re.test(url)) return part;
    }
    return "Node runtime (http, net, timers)";
  };

  /** Our outermost-but-nearest frames: the first two backend functions above a sample. */
  const ourCallers = (id: number): string => {
    const names: string[] = [];
    for (let cur: number | undefined = id; cur !== undefined && names.length < 2; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (/\/backend\//.test(f.url) && f.functionName) names.push(`${f.functionName} (${f.url.replace(/^.*\/backend\//, "")})`);
    }
    return names.join(" ← ") || "(no backend frame)";
  };
  const sqlCallers = new Map<string, number>();
  const parts = new Map<string, number>();
  const leaves = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    const dt = profile.timeDeltas[i + 1] ?? 0; // a sample stands for the time until the next one
    if (!inWindow(t)) continue;
    const id = profile.samples[i]!;
    const part = partOf(id);
    if (part === "(idle)") continue;
    total += dt;
    parts.set(part, (parts.get(part) ?? 0) + dt);
    if (part.startsWith("SQLite") || part.startsWith("PostgreSQL") || part.startsWith("Kysely")) {
      const who = ourCallers(id);
      sqlCallers.set(who, (sqlCallers.get(who) ?? 0) + dt);
    }
    const f = byId.get(id)!.callFrame;
    const where = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(node_modules|backend)\//, "$1/")}:${f.lineNumber + 1}`;
    leaves.set(where, (leaves.get(where) ?? 0) + dt);
  }
  const count = phase === "claims" ? result.options.users * target.windowsUs.length : NaN;
  const ms = (us: number) => (us / 1000).toFixed(1);
  console.log(`${phase} on ${store}: ${ms(total)} ms of CPU sampled in the phase${Number.isFinite(count) ? `, ${(total / 1000 / count).toFixed(3)} ms per claim (${count} claims)` : ""}\n`);
  console.log("| part | share | ms |");
  console.log("| --- | ---: | ---: |");
  for (const [part, us] of [...parts].sort((a, b) => b[1] - a[1])) console.log(`| ${part} | ${((100 * us) / total).toFixed(1)}% | ${ms(us)} |`);
  console.log(`\nDatabase time (SQLite or pg, and Kysely) by our calling functions:\n`);
  for (const [who, us] of [...sqlCallers].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${who}`);
  console.log(`\nTop functions (self time):\n`);
  for (const [where, us] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, Number(arg("top", "25")))) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${where}`);
}

main();
