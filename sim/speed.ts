/**
 * `node --import tsx sim/speed.ts [--users 1000] [--weeks 4] [--seed 104] [--policy adaptive|static:N]`:
 * how fast the simulator replays a generated one-office trace. Prints the process's CPU time
 * (user + sys, the figure to compare on a shared machine), wall time, the load average and
 * the run's figures (which must not change with speed work: runs are deterministic).
 */
import { loadavg } from "node:os";
import { DEFAULT_SIM, simulate } from "./engine";
import { generateTrace } from "./generate";
import { parsePolicy } from "./policy-arg";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const users = Number(arg("users", "1000"));
  const weeks = Number(arg("weeks", "4"));
  const seed = Number(arg("seed", "104"));
  const policy = parsePolicy(arg("policy", "adaptive"));
  const rows = generateTrace({ users, weeks, seed, tz: "Europe/Berlin" });
  const load = loadavg().map((x) => x.toFixed(2));
  const cpu0 = process.cpuUsage();
  const r = await simulate(rows, { ...DEFAULT_SIM, policy });
  const cpu = process.cpuUsage(cpu0);
  const { daily, ...figures } = r;
  process.stdout.write(
    `${JSON.stringify({ users, weeks, seed, cpuUserSeconds: cpu.user / 1e6, cpuSysSeconds: cpu.system / 1e6, loadBefore: load, loadAfter: loadavg().map((x) => x.toFixed(2)), days: daily.length, ...figures })}\n`,
  );
}

main().catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
