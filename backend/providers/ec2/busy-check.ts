/**
 * The busy check the reaper runs before taking an idle instance back: a small shell script run
 * through SSM prints the load average, the CPU count and the busiest rsession's CPU share; R is
 * busy when the load per CPU or that rsession is over the purpose's threshold (percent). Where
 * Jupyter runs (its port is in /etc/rstudio-pool/jupyter-port), it also prints Jupyter's busy
 * kernels and the seconds since its last_activity: a busy kernel, or activity in the last few
 * minutes, is work too.
 */

/** Jupyter activity this recent (seconds) counts as work, like the extension's traffic window. */
export const JUPYTER_ACTIVE_SECONDS = 180;

/** Prints one line: "load=0.42 cpus=2 rsession=97.5 jupyter=1 jupyterIdle=35" (jupyter=0 jupyterIdle=-1 without Jupyter). */
export const BUSY_SCRIPT = [
  "load=$(cut -d' ' -f1 /proc/loadavg)",
  "cpus=$(nproc)",
  "rs=$(ps -C rsession -o %cpu= 2>/dev/null | sort -nr | head -n1 | tr -d ' ')",
  "jp=$(cat /etc/rstudio-pool/jupyter-port 2>/dev/null || true); jk=0; ji=-1",
  'if [ -n "$jp" ]; then jk=$(curl -s --max-time 3 "http://127.0.0.1:$jp/api/kernels?no_track_activity=1" | grep -o \'"execution_state": *"busy"\' | wc -l); ' +
    'la=$(curl -s --max-time 3 "http://127.0.0.1:$jp/api/status" | grep -o \'"last_activity": *"[^"]*"\' | cut -d\'"\' -f4); ' +
    'if [ -n "$la" ]; then ji=$(( $(date +%s) - $(date -d "$la" +%s) )); fi; fi',
  'echo "load=$load cpus=$cpus rsession=${rs:-0} jupyter=${jk:-0} jupyterIdle=${ji:--1}"',
];

export interface BusyReading {
  load: number;
  cpus: number;
  rsessionCpu: number;
  /** Jupyter kernels whose execution_state is busy (0 without Jupyter). */
  jupyterBusyKernels?: number;
  /** Seconds since Jupyter's last_activity; absent without Jupyter. */
  jupyterIdleSeconds?: number;
}

export function parseBusyOutput(stdout: string): BusyReading | null {
  const m = /load=([\d.]+)\s+cpus=(\d+)\s+rsession=([\d.]+)/.exec(stdout);
  if (!m) return null;
  const reading: BusyReading = { load: Number(m[1]), cpus: Math.max(1, Number(m[2])), rsessionCpu: Number(m[3]) };
  if (!Object.values(reading).every(Number.isFinite)) return null;
  const j = /jupyter=(\d+)\s+jupyterIdle=(-?\d+)/.exec(stdout);
  if (j) {
    reading.jupyterBusyKernels = Number(j[1]);
    if (Number(j[2]) >= 0) reading.jupyterIdleSeconds = Number(j[2]);
  }
  return reading;
}

/** Busy when the load per CPU or the busiest rsession reaches the threshold, or Jupyter is working. */
export function isBusyReading(r: BusyReading, cpuThresholdPercent: number): boolean {
  const loadPercent = (r.load / r.cpus) * 100;
  const jupyter = (r.jupyterBusyKernels ?? 0) > 0 || (r.jupyterIdleSeconds !== undefined && r.jupyterIdleSeconds < JUPYTER_ACTIVE_SECONDS);
  return loadPercent >= cpuThresholdPercent || r.rsessionCpu >= cpuThresholdPercent || jupyter;
}
