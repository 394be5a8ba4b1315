/**
 * Child processes of the e2e harness (backend, code-server): each is started in its own process
 * group with its output in a log file, and stopped by signalling the whole group, so nothing it
 * started (extension host, pty host, port-forward plugin) outlives the test. A last-chance exit
 * hook kills whatever a crashed test left behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";

const live = new Set<ManagedProcess>();
process.once("exit", () => {
  for (const p of live) signalGroup(p.pid, "SIGKILL");
});

export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether any process of the group still exists. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` returns a truthy value; fails naming what it waited for. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<NonNullable<T>> {
  const until = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) {
      throw new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

export class ManagedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  private exited: Promise<void>;

  constructor(readonly name: string, file: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; logFile: string }) {
    const out = openSync(opts.logFile, "a");
    try {
      this.child = spawn(file, args, { env: opts.env, cwd: opts.cwd, detached: true, stdio: ["ignore", out, out] });
    } finally {
      closeSync(out);
    }
    if (this.child.pid === undefined) throw new Error(`could not start ${name} (${file})`);
    this.pid = this.child.pid;
    live.add(this);
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when no process of the group is left. */
  async stop(graceMs = 5000): Promise<void> {
    signalGroup(this.pid, "SIGTERM");
    const until = Date.now() + graceMs;
    while (Date.now() < until && groupAlive(this.pid)) await sleep(100);
    if (groupAlive(this.pid)) signalGroup(this.pid, "SIGKILL");
    await Promise.race([this.exited, sleep(2000)]);
    while (groupAlive(this.pid) && Date.now() < until + 3000) await sleep(100);
    live.delete(this);
  }
}
