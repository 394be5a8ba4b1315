/**
 * Finding an instance's processes without trusting a pid: every instance process carries its
 * instance id and pool name in its environment (see child-env.ts), and Linux shows a process's
 * environment in /proc/<pid>/environ (to its own user and root). A restart uses this to find a
 * process whose launch crashed before its pid was written down, and a recycled pid is never
 * taken for an instance.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { HOME_ENV, INSTANCE_ENV, POOL_ENV, PURPOSE_ENV } from "./child-env";

/** Whether this system shows processes' environments (Linux). Elsewhere pids are trusted. */
export const HAS_PROC = existsSync("/proc/self/environ");

export interface TaggedProcess {
  pid: number;
  instanceId: string;
  poolName: string | null;
  purpose: string | null;
  port: number | null;
}

function environOf(pid: number): Map<string, string> | null {
  try {
    const out = new Map<string, string>();
    for (const kv of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
      const eq = kv.indexOf("=");
      if (eq > 0) out.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
    return out;
  } catch {
    return null;
  }
}

/** The process group of `pid`, or null when it is gone or a zombie. */
function groupOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (rest[0] === "Z" || rest[0] === "X") return null;
    return Number(rest[2]);
  } catch {
    return null;
  }
}

/** Whether `pid` is alive and is the instance's (checked through its environment on Linux). */
export function isOurProcess(pid: number, instanceId: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  if (!HAS_PROC) return true;
  if (groupOf(pid) === null) return false;
  return environOf(pid)?.get(INSTANCE_ENV) === instanceId;
}

export interface ProcessScope {
  /** The provider's data dir (resolved): only processes launched from it. */
  home: string;
  poolName?: string;
}

/**
 * The leaders of every tagged process group launched from one data dir (the processes the
 * provider spawned; their children carry the same tags and die with the group).
 */
export function taggedProcesses(scope: ProcessScope): TaggedProcess[] {
  const { home, poolName } = scope;
  if (!HAS_PROC) return [];
  const out: TaggedProcess[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const env = environOf(pid);
    const instanceId = env?.get(INSTANCE_ENV);
    if (!env || !instanceId || env.get(HOME_ENV) !== home) continue;
    if (poolName !== undefined && env.get(POOL_ENV) !== poolName) continue;
    if (groupOf(pid) !== pid) continue;
    out.push({ pid, instanceId, poolName: env.get(POOL_ENV) ?? null, purpose: env.get(PURPOSE_ENV) ?? null, port: Number(env.get("PORT")) || null });
  }
  return out;
}

/** The group leader of an instance's processes, if one is running. */
export function findInstanceProcess(instanceId: string, scope: ProcessScope): number | null {
  return taggedProcesses(scope).find((p) => p.instanceId === instanceId)?.pid ?? null;
}

/** Signals a process group (our instances and jobs lead their own), or the process alone when it leads none. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}
