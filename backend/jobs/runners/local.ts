/**
 * The local provider's job runner: a real `Rscript` (or the job's command) on this machine,
 * with the instance's home as its working directory. The process is detached in its own
 * process group behind a small shell wrapper that writes its exit code to a file, and its
 * output goes to a log file, so a job outlives a restart of the backend, which finds its
 * state again from those files (`<dataDir>/local-jobs/<jobId>/`).
 *
 * The job's environment is its own variables plus a minimal PATH, HOME and LANG: never the
 * backend's, which holds the old protocol's keys, AWS credentials and the database URL.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { JobRunner, JobSpec, JobTarget, LocalLogStore, LogChunk, LogDir, ProcessProbe, RunRef, RunStatus } from "../runner";
import { killGroup } from "../../providers/local/processes";

/** Marks a job's processes (checked in /proc before a signal, so a recycled pid is never killed). */
export const JOB_ENV = "RSTUDIO_POOL_JOB";
const HAS_PROC = existsSync("/proc/self/environ");
const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";
/** Most log bytes one read returns. */
const LOG_CHUNK = 256 * 1024;
/** Runs "$@", then writes its exit code atomically next to the log ($1). */
const WRAPPER = 'f="$1"; shift; "$@"; c=$?; printf "%s\\n" "$c" > "$f.tmp" && mv "$f.tmp" "$f"; exit "$c"';

export interface LocalJobRunnerOptions {
  /** The backend's data dir: job files live in `local-jobs/` there. */
  dataDir: string;
  /** The instance's home (the local provider's `homeDir`), when the target does not name it. */
  homeOf: (instanceId: string) => string;
  /** Where PATH and LANG are taken from (default process.env); nothing else of it is passed. */
  env?: NodeJS.ProcessEnv;
  /** The program that runs scripts (default Rscript on the PATH). */
  rscript?: string;
  /** How long cancel waits for the group to end after SIGTERM before SIGKILL. */
  killGraceMs?: number;
}

interface LocalRef {
  pid: number;
  startedAt: number;
}

/** The environment of a job's process: its own variables, then what the runner sets (and may not be overridden). */
export function jobEnv(parent: NodeJS.ProcessEnv, job: Pick<JobSpec, "env" | "jobId">, home: string): NodeJS.ProcessEnv {
  return {
    LANG: parent.LANG ?? "C.UTF-8",
    ...job.env,
    PATH: job.env.PATH ?? parent.PATH ?? DEFAULT_PATH,
    HOME: home,
    [JOB_ENV]: job.jobId,
  };
}

/** A path inside `root` for a job file's relative name; null when it would leave it. */
export function insideHome(root: string, rel: string): string | null {
  if (!rel || path.isAbsolute(rel) || rel.includes("\0")) return null;
  const full = path.resolve(root, rel);
  return full.startsWith(path.resolve(root) + path.sep) ? full : null;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  if (!HAS_PROC) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const st = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return st !== "Z" && st !== "X";
  } catch {
    return false;
  }
}

/** Whether any process of group `pgid` still runs (not a zombie); without /proc, whether its leader does. */
export function groupHasLiveMembers(pgid: number): boolean {
  if (!HAS_PROC) return groupAlive(pgid);
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[2]) === pgid && rest[0] !== "Z" && rest[0] !== "X") return true;
    } catch {
      /* gone meanwhile */
    }
  }
  return false;
}

/** Whether `pid` is alive and runs this job (its environment carries the job's tag, on Linux). */
function isJobProcess(pid: number, jobId: string): boolean {
  if (!groupAlive(pid)) return false;
  if (!HAS_PROC) return true;
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`${JOB_ENV}=${jobId}`);
  } catch {
    return false;
  }
}

/** How many bytes of `buf` end on a whole UTF-8 character (a chunk never splits one). */
function wholeUtf8(buf: Buffer): number {
  let end = buf.length;
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    if (need > back) end = buf.length - back;
    break;
  }
  return end;
}

export class LocalJobRunner implements JobRunner, ProcessProbe, LocalLogStore {
  readonly kind = "local" as const;
  readonly needsInstance = true;

  constructor(private readonly options: LocalJobRunnerOptions) {}

  private get jobsRoot(): string {
    return path.join(this.options.dataDir, "local-jobs");
  }

  jobDir(jobId: string): string {
    return path.join(this.jobsRoot, jobId);
  }

  // Asynchronous, unlike the rest of this runner: a sweep may list and remove thousands of
  // directories, and the API shares this event loop (2000 removals: ~1 s of CPU).
  async listLogDirs(): Promise<LogDir[]> {
    let names: string[];
    try {
      names = await readdir(this.jobsRoot);
    } catch {
      return []; // no job ever ran here
    }
    const dirs: LogDir[] = [];
    for (const name of names) {
      const dir = path.join(this.jobsRoot, name);
      try {
        const st = await stat(dir);
        if (!st.isDirectory()) continue;
        let bytes = 0;
        let newest = st.mtimeMs;
        // Flat by construction (output.log, exit-code, process.json and their .tmp).
        for (const f of await readdir(dir)) {
          const fst = await stat(path.join(dir, f));
          bytes += fst.size;
          newest = Math.max(newest, fst.mtimeMs);
        }
        dirs.push({ name, bytes, newestMtimeMs: newest });
      } catch {
        /* removed meanwhile */
      }
    }
    return dirs;
  }

  hasLogDir(jobId: string): boolean {
    return existsSync(this.jobDir(jobId));
  }

  async removeLogDir(jobId: string): Promise<void> {
    await rm(this.jobDir(jobId), { recursive: true, force: true });
  }

  private files(jobId: string) {
    const dir = this.jobDir(jobId);
    return { dir, log: path.join(dir, "output.log"), exit: path.join(dir, "exit-code"), ref: path.join(dir, "process.json") };
  }

  private home(target: JobTarget | null): string {
    if (!target) throw new Error("the local job runner needs the job's instance");
    return target.homeDir ?? this.options.homeOf(target.instanceId);
  }

  async start(job: JobSpec, target: JobTarget | null): Promise<RunRef> {
    const f = this.files(job.jobId);
    // Starting the same job again (a restart between the spawn and the database write) finds the first process.
    if (existsSync(f.ref)) return readFileSync(f.ref, "utf8");
    const home = this.home(target);
    mkdirSync(home, { recursive: true });
    mkdirSync(f.dir, { recursive: true, mode: 0o700 });
    for (const file of job.files) {
      const dest = insideHome(home, file.path);
      if (!dest) throw new Error(`file path "${file.path}" leaves the home`);
      mkdirSync(path.dirname(dest), { recursive: true });
      writeFileSync(dest, Buffer.from(file.contentBase64, "base64"));
    }
    let argv: string[];
    if (job.script !== null) {
      const dest = insideHome(home, job.scriptName);
      if (!dest) throw new Error(`script name "${job.scriptName}" leaves the home`);
      writeFileSync(dest, job.script);
      argv = [this.options.rscript ?? "Rscript", job.scriptName, ...job.args];
    } else {
      argv = [...(job.command ?? []), ...job.args];
    }
    const out = openSync(f.log, "a", 0o600);
    let child;
    try {
      child = spawn("/bin/sh", ["-c", WRAPPER, "rstudio-pool-job", f.exit, ...argv], {
        cwd: home,
        detached: true,
        stdio: ["ignore", out, out],
        env: jobEnv(this.options.env ?? process.env, job, home),
      });
    } finally {
      closeSync(out);
    }
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => resolve(child.pid!));
      child.once("error", reject);
    });
    child.unref();
    const ref = JSON.stringify({ pid, startedAt: Date.now() } satisfies LocalRef);
    writeFileSync(`${f.ref}.tmp`, ref);
    renameSync(`${f.ref}.tmp`, f.ref);
    return ref;
  }

  private exitCode(jobId: string): { code: number; at: number } | null {
    const f = this.files(jobId);
    try {
      const text = readFileSync(f.exit, "utf8").trim();
      if (!/^\d+$/.test(text)) return null;
      return { code: Number(text), at: statSync(f.exit).mtimeMs };
    } catch {
      return null;
    }
  }

  async status(job: JobSpec, ref: RunRef): Promise<RunStatus> {
    const exited = this.exitCode(job.jobId);
    if (exited) return { status: "exited", exitCode: exited.code, endedAt: Math.round(exited.at) };
    const { pid } = JSON.parse(ref) as LocalRef;
    if (isJobProcess(pid, job.jobId)) return { status: "running" };
    // It may have written its code between the two looks.
    const late = this.exitCode(job.jobId);
    if (late) return { status: "exited", exitCode: late.code, endedAt: Math.round(late.at) };
    return { status: "lost", reason: "the process ended without an exit code (killed)" };
  }

  async readLog(job: JobSpec, ref: RunRef | null, _target: JobTarget | null, offset: number): Promise<LogChunk> {
    const f = this.files(job.jobId);
    // Read "ended" before the bytes, so a chunk marked complete holds everything written.
    const ended = this.exitCode(job.jobId) !== null || !ref || !isJobProcess((JSON.parse(ref) as LocalRef).pid, job.jobId);
    let fd: number;
    try {
      fd = openSync(f.log, "r");
    } catch {
      return { text: "", nextOffset: offset, complete: ended };
    }
    try {
      const size = fstatSync(fd).size;
      const from = Math.min(Math.max(0, offset), size);
      const buf = Buffer.alloc(Math.min(LOG_CHUNK, size - from));
      const n = buf.length ? readSync(fd, buf, 0, buf.length, from) : 0;
      const used = from + n >= size && ended ? n : wholeUtf8(buf.subarray(0, n));
      const next = from + used;
      return { text: buf.subarray(0, used).toString("utf8"), nextOffset: next, complete: ended && next >= size };
    } finally {
      closeSync(fd);
    }
  }

  async cancel(job: JobSpec, ref: RunRef): Promise<void> {
    const { pid } = JSON.parse(ref) as LocalRef;
    if (!isJobProcess(pid, job.jobId)) return;
    killGroup(pid, "SIGTERM");
    const deadline = Date.now() + (this.options.killGraceMs ?? 5000);
    while (Date.now() < deadline && groupHasLiveMembers(pid)) await new Promise((r) => setTimeout(r, 50));
    if (groupHasLiveMembers(pid)) killGroup(pid, "SIGKILL");
    // SIGKILL is not refused: wait for the kernel to finish the whole group (R's children too).
    const gone = Date.now() + 5000;
    while (Date.now() < gone && groupHasLiveMembers(pid)) await new Promise((r) => setTimeout(r, 50));
  }

  /** Whether a process runs on the instance (this machine, for the local provider). */
  async processAlive(_target: JobTarget, pid: number): Promise<boolean> {
    return Number.isInteger(pid) && pid > 0 && groupAlive(pid);
  }
}

