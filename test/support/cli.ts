/** Runs the bundled CLI (building it first if needed) the way an operator would. */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");
export const CLI = path.join(ROOT, "dist", "backend", "cli.js");

export function ensureBuilt(): void {
  if (existsSync(CLI) && existsSync(path.join(ROOT, "dist", "backend", "placeholder.js"))) return;
  const res = spawnSync(process.execPath, ["esbuild.config.mjs"], { cwd: ROOT, stdio: "inherit" });
  if (res.status !== 0) throw new Error("build failed");
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string>): CliResult {
  ensureBuilt();
  const res = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

export interface ServeHandle {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  /** Everything it printed (JSON logs on stdout, notices on stderr). */
  output: () => string;
  stop(): Promise<void>;
}

/** Starts `rstudio-pool serve` and waits for its "listening" log line. */
export async function startServe(env: Record<string, string>): Promise<ServeHandle> {
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, "serve"], { cwd: ROOT, env: { ...process.env, PORT: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 30_000);
    child.stdout!.on("data", (d) => {
      out += d;
      for (const line of out.split("\n")) {
        if (!line.includes('"event":"listening"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line).url);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err}`));
    });
  });
  return {
    child,
    url,
    stderr: () => err,
    output: () => out + err,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
