/**
 * One benchmark round, the same for every target (our pool, JupyterHub): warm claims at
 * concurrency 4 and 16, heartbeats with cached and uncached tokens, then every claim released.
 * The server's CPU time is read from /proc around each phase, so "CPU per claim" is what the
 * server side spent (background ticks included), not what the client saw. A claim phase ends
 * when the work the claims left for later (hand-overs) is done, so that work counts too and
 * does not slow the heartbeats after it; throughput and latency are the requests' own.
 */
import { cpuSeconds, type LoadGenerator, type LoadItem, type LoadResult } from "./machine";
import { percentile, round } from "./stats";

/** What a target offers the round: how to claim, heartbeat and release for user number i. */
export interface Target {
  label: string;
  base: string;
  /** The server's processes (CPU is summed over them). */
  pids(): number[];
  users: number;
  claim(i: number): LoadItem;
  claimExpect: number[];
  /** What a claim's answer gives the later requests (an instance id); throws if it was not a warm claim. */
  held(i: number, body: string): string;
  heartbeat(i: number, held: string): LoadItem;
  /** Heartbeats whose tokens the server cannot have cached, or null when it has no token cache. */
  coldHeartbeats(held: string[]): LoadItem[] | null;
  heartbeatExpect: number[];
  release(i: number, held: string): LoadItem;
  releaseExpect: number[];
  /** Waits until the work the claims left behind (hand-overs) is done; its CPU counts to the claims. */
  settleClaims(): Promise<void>;
}

export interface RoundOptions {
  seconds: number;
  heartbeatConcurrency: number;
}

export interface RoundFigures {
  claimsPerSecondC4: number;
  claimP50MsC4: number;
  claimP99MsC4: number;
  claimsPerSecondC16: number;
  claimP50MsC16: number;
  claimP99MsC16: number;
  cpuMsPerClaim: number;
  heartbeatsPerSecondWarm: number;
  heartbeatP99MsWarm: number;
  cpuMsPerHeartbeatWarm: number;
  heartbeatsPerSecondCold: number;
  heartbeatP99MsCold: number;
  cpuMsPerHeartbeatCold: number;
  releasesPerSecond: number;
}

function serverCpu(t: Target): number {
  return t.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

/** The monotonic clock in µs: the clock of V8's CPU profiles, so a phase can be cut out of one. */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

async function measured(t: Target, run: () => Promise<LoadResult>, after?: () => Promise<void>): Promise<{ r: LoadResult; cpu: number; windowUs: [number, number] }> {
  const before = serverCpu(t);
  const from = monoUs();
  const r = await run();
  await after?.();
  return { r, cpu: serverCpu(t) - before, windowUs: [from, monoUs()] };
}

export interface RoundOutcome {
  figures: RoundFigures;
  held: string[];
  releaseStartedAt: number;
  releaseEndedAt: number;
  /** When each phase ran, on the monotonic clock in µs (for cutting CPU profiles). */
  windowsUs: Record<"claimsC4" | "claimsC16" | "heartbeatsWarm" | "heartbeatsCold", [number, number]>;
}

export async function runRound(t: Target, load: LoadGenerator, o: RoundOptions): Promise<RoundOutcome> {
  const half = Math.floor(t.users / 2);
  const held: string[] = new Array(t.users);
  const claims = async (from: number, to: number, concurrency: number) => {
    const ids = Array.from({ length: to - from }, (_, k) => from + k);
    const m = await measured(
      t,
      () => load.runChecked({ kind: "once", base: t.base, concurrency, items: ids.map((i) => t.claim(i)), expect: t.claimExpect }),
      () => t.settleClaims(),
    );
    ids.forEach((i, k) => (held[i] = t.held(i, m.r.bodies![k]!)));
    return m;
  };
  const c4 = await claims(0, half, 4);
  const c16 = await claims(half, t.users, 16);

  const hbItems = held.map((h, i) => t.heartbeat(i, h));
  const warm = await measured(t, () =>
    load.runChecked({ kind: "cycle", base: t.base, concurrency: o.heartbeatConcurrency, seconds: o.seconds, items: hbItems, expect: t.heartbeatExpect }),
  );
  const coldItems = t.coldHeartbeats(held);
  const cold = coldItems
    ? await measured(t, () => load.runChecked({ kind: "cycle", base: t.base, concurrency: o.heartbeatConcurrency, seconds: o.seconds, items: coldItems, expect: t.heartbeatExpect }))
    : warm; // no token cache: every heartbeat already looks its token up

  const releaseStartedAt = Date.now();
  const rel = await load.runChecked({ kind: "once", base: t.base, concurrency: 16, items: held.map((h, i) => t.release(i, h)), expect: t.releaseExpect });

  const releaseEndedAt = Date.now();
  const rate = (r: LoadResult) => r.latencies.length / r.seconds;
  const figures: RoundFigures = {
    claimsPerSecondC4: Math.round(rate(c4.r)),
    claimP50MsC4: round(percentile(c4.r.latencies, 50)),
    claimP99MsC4: round(percentile(c4.r.latencies, 99)),
    claimsPerSecondC16: Math.round(rate(c16.r)),
    claimP50MsC16: round(percentile(c16.r.latencies, 50)),
    claimP99MsC16: round(percentile(c16.r.latencies, 99)),
    cpuMsPerClaim: round(((c4.cpu + c16.cpu) * 1000) / t.users, 3),
    heartbeatsPerSecondWarm: Math.round(rate(warm.r)),
    heartbeatP99MsWarm: round(percentile(warm.r.latencies, 99)),
    cpuMsPerHeartbeatWarm: round((warm.cpu * 1000) / warm.r.latencies.length, 3),
    heartbeatsPerSecondCold: Math.round(rate(cold.r)),
    heartbeatP99MsCold: round(percentile(cold.r.latencies, 99)),
    cpuMsPerHeartbeatCold: round((cold.cpu * 1000) / cold.r.latencies.length, 3),
    releasesPerSecond: Math.round(rate(rel)),
  };
  const windowsUs = { claimsC4: c4.windowUs, claimsC16: c16.windowUs, heartbeatsWarm: warm.windowUs, heartbeatsCold: cold.windowUs };
  return { figures, held, releaseStartedAt, releaseEndedAt, windowsUs };
}
