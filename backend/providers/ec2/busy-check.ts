/**
 * The busy check the reaper runs before taking an idle instance back: a small shell script run
 * through SSM prints the load average, the CPU count and the busiest rsession's CPU share; R is
 * busy when the load per CPU or that rsession is over the purpose's threshold (percent).
 */

/** Prints one line: "load=0.42 cpus=2 rsession=97.5" (rsession=0 when none runs). */
export const BUSY_SCRIPT = [
  "load=$(cut -d' ' -f1 /proc/loadavg)",
  "cpus=$(nproc)",
  "rs=$(ps -C rsession -o %cpu= 2>/dev/null | sort -nr | head -n1 | tr -d ' ')",
  'echo "load=$load cpus=$cpus rsession=${rs:-0}"',
];

export interface BusyReading {
  load: number;
  cpus: number;
  rsessionCpu: number;
}

export function parseBusyOutput(stdout: string): BusyReading | null {
  const m = /load=([\d.]+)\s+cpus=(\d+)\s+rsession=([\d.]+)/.exec(stdout);
  if (!m) return null;
  const reading = { load: Number(m[1]), cpus: Math.max(1, Number(m[2])), rsessionCpu: Number(m[3]) };
  return Object.values(reading).every(Number.isFinite) ? reading : null;
}

/** Busy when the 1-minute load per CPU, or the busiest rsession's CPU, reaches the threshold. */
export function isBusyReading(r: BusyReading, cpuThresholdPercent: number): boolean {
  const loadPercent = (r.load / r.cpus) * 100;
  return loadPercent >= cpuThresholdPercent || r.rsessionCpu >= cpuThresholdPercent;
}
