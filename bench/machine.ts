/**
 * What the benchmark reads from the machine: whether processes can be pinned to CPUs, a
 * process's CPU time and memory from /proc, and the load generator process it drives.
 */
import { fork, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** CPUs for the server side and the load generator, or null when pinning is not possible here. */
export interface Pinning {
  server: string;
  load: string;
}

export function detectPinning(): Pinning | null {
  if (os.cpus().length < 2) return null;
  const probe = spawnSync("taskset", ["-c", "1", "true"], { stdio: "ignore" });
  if (probe.status !== 0) return null;
  return { server: "0", load: "1" };
}

/** The command line that runs `file args` on the given CPUs (or unpinned). */
export function pinned(cpus: string | null, file: string, args: string[]): { file: string; args: string[] } {
  return cpus ? { file: "taskset", args: ["-c", cpus, file, ...args] } : { file, args };
}

const TICKS_PER_SECOND = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** User + system CPU seconds a process has used (its threads included). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
}

/** Resident memory now and at its peak, in MB. */
export function memoryMb(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(kb("VmRSS") / 1024), peakMb: Math.round(kb("VmHWM") / 1024) };
}

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return `${os.cpus().length} cores (${cpu.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

export interface LoadItem {
  method: string;
  path: string;
  auth: string;
  body?: string;
}

export interface LoadResult {
  latencies: number[];
  seconds: number;
  statuses: Record<string, number>;
  failures: string[];
  bodies: string[] | null;
}

/** The load generator process, pinned to its CPU right after it starts. */
export class LoadGenerator {
  private constructor(private readonly child: ChildProcess) {}

  static start(cpus: string | null): LoadGenerator {
    const child = fork(path.join(__dirname, "load-generator.mjs"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    if (cpus) spawnSync("taskset", ["-a", "-p", "-c", cpus, String(child.pid)], { stdio: "ignore" });
    return new LoadGenerator(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  run(job: { kind: "once" | "cycle"; base: string; concurrency: number; items: LoadItem[]; expect: number[]; seconds?: number }): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the load generator exited (${code})`));
      this.child.once("exit", onExit);
      this.child.once("message", (m: LoadResult & { ok: boolean; error?: string }) => {
        this.child.off("exit", onExit);
        if (m.ok) resolve(m);
        else reject(new Error(m.error));
      });
      this.child.send(job);
    });
  }

  /** Runs a job and throws if any answer was not one of `expect`. */
  async runChecked(job: Parameters<LoadGenerator["run"]>[0]): Promise<LoadResult> {
    const r = await this.run(job);
    if (r.failures.length) throw new Error(`unexpected answers (${JSON.stringify(r.statuses)}):\n  ${r.failures.join("\n  ")}`);
    return r;
  }

  stop(): void {
    this.child.kill();
  }
}
