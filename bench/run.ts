/**
 * `npm run bench`: runs the benchmarks and prints their results as JSON and as Markdown rows
 * for docs/benchmarks.md. Benchmarks measure; they never pass or fail a build.
 */
import { benchService, machineLine } from "./service";

async function main(): Promise<void> {
  const date = new Date().toISOString();
  const machine = machineLine();
  const service = await benchService();
  console.log(JSON.stringify({ date, machine, service }, null, 2));
  console.log(`\nService (${date.slice(0, 10)}, ${machine}):\n`);
  console.log("| store | warm claims | concurrency | claim p50 ms | claim p99 ms | claims/s | heartbeats/s | heartbeat p99 ms |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of service) {
    console.log(`| ${r.store} | ${r.claims} | ${r.concurrency} | ${r.claimP50Ms} | ${r.claimP99Ms} | ${r.claimsPerSecond} | ${r.heartbeatsPerSecond} | ${r.heartbeatP99Ms} |`);
  }
}

void main();
