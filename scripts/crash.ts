// The full crash-safety run (docs/benchmarks.md, "Reliability"): `npm run crash [-- points]`.
import { runCrashHarness } from "../test/support/crash-harness";

const points = Number(process.argv[2] ?? process.env.CRASH_POINTS ?? 100);
const seed = Number(process.env.CRASH_SEED ?? 20261201);
void runCrashHarness({ killPoints: points, seed, log: (l) => process.stderr.write(`${l}\n`) }).then((report) => {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const bad = report.orphans.length + report.duplicateLaunches.length + report.lost.length + report.doubleOwners.length + report.billingMismatches.length + report.leftAfterDrain;
  process.exit(bad === 0 ? 0 : 1);
});
