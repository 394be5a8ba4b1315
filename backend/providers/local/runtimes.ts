/**
 * How the local provider starts an "instance": the command line for each runtime (and the
 * files and environment it needs), which app each runtime serves, and the auto-detection that
 * picks the first runtime that works here. Pure argument building is kept apart from detection
 * so it is unit-tested.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import type { AppName } from "../../config/apps";
import type { LocalRuntime } from "../../config/schema";
import { findJupyter, JUPYTER_CONFIG_PY, JUPYTER_CUSTOM_JS, jupyterConfig, type JupyterInstall } from "./jupyter";

export type ConcreteRuntime = Exclude<LocalRuntime, "auto">;

export interface LaunchCommand {
  file: string;
  args: string[];
  /** Variables this runtime needs on top of the provider's base environment. */
  env?: Record<string, string>;
  /** Working directory, when the runtime has one of its own (the instance's home). */
  cwd?: string;
  /** Files to write (path -> content) before starting, such as the app's configuration. */
  files?: Record<string, string>;
}

/** The app a runtime serves: what the readiness check, busy check and the extension go by. */
export function runtimeApp(runtime: ConcreteRuntime): AppName | "placeholder" | "command" {
  switch (runtime) {
    case "docker":
    case "rserver":
      return "rstudio";
    case "jupyter":
      return "jupyter";
    default:
      return runtime;
  }
}

export interface RuntimeInputs {
  runtime: ConcreteRuntime;
  port: number;
  instanceId: string;
  purpose: string;
  dataDir: string;
  command: string | null;
  rstudioImage: string;
  /** How to run the placeholder app (the bundled file, or the TypeScript source through tsx). */
  placeholder: LaunchCommand;
  /** The instance's home directory (Jupyter's notebook directory and R's $HOME). */
  home?: string;
  /** The instance's own directory for the app's configuration and runtime files. */
  stateDir?: string;
  /** The Jupyter install found on this machine (the jupyter runtime only). */
  jupyter?: JupyterInstall | null;
  /** Running as root (Jupyter refuses to without --allow-root). */
  asRoot?: boolean;
}

export function containerName(instanceId: string): string {
  return `rstudio-pool-${instanceId}`;
}

export function buildLaunchCommand(i: RuntimeInputs): LaunchCommand {
  switch (i.runtime) {
    case "docker":
      return {
        file: "docker",
        args: [
          "run",
          "--rm",
          "--name",
          containerName(i.instanceId),
          "--label",
          `rstudio-pool.instance=${i.instanceId}`,
          "-p",
          `127.0.0.1:${i.port}:8787`,
          "-e",
          "DISABLE_AUTH=true",
          i.rstudioImage,
        ],
      };
    case "rserver":
      return {
        file: "rserver",
        args: [
          `--www-port=${i.port}`,
          "--www-address=127.0.0.1",
          "--auth-none=1",
          "--server-daemonize=0",
          "--www-frame-origin=same",
          `--server-data-dir=${path.join(i.dataDir, "rserver", i.instanceId)}`,
        ],
      };
    case "command": {
      if (!i.command) throw new Error("POOL_LOCAL_COMMAND is not set");
      return { file: "/bin/sh", args: ["-c", i.command.replaceAll("{port}", String(i.port))] };
    }
    case "placeholder":
      return {
        file: i.placeholder.file,
        args: [...i.placeholder.args, "--port", String(i.port), "--instance", i.instanceId, "--purpose", i.purpose],
      };
    case "jupyter":
      return jupyterCommand(i);
  }
}

function jupyterCommand(i: RuntimeInputs): LaunchCommand {
  if (!i.jupyter) throw new Error("Jupyter Notebook with the R kernel was not found on this machine");
  if (!i.home || !i.stateDir) throw new Error("the jupyter runtime needs the instance's home and state directory");
  const configDir = path.join(i.stateDir, "config");
  return {
    // Run by the interpreter that has the notebook package, whatever python3 comes first on PATH.
    file: i.jupyter.python,
    args: [i.jupyter.script, "--no-browser", "--ip=127.0.0.1", `--port=${i.port}`, `--notebook-dir=${i.home}`],
    cwd: i.home,
    env: {
      HOME: i.home,
      // Our own config and runtime dirs: a user's ~/.jupyter must not change how the instance runs.
      JUPYTER_CONFIG_DIR: configDir,
      JUPYTER_RUNTIME_DIR: path.join(i.stateDir, "runtime"),
      // The interpreter's directory first, so kernels started by name find the same Python.
      PATH: [path.dirname(i.jupyter.python), i.jupyter.rDir, "/usr/local/bin", "/usr/bin", "/bin"].filter((d, n, all) => all.indexOf(d) === n).join(path.delimiter),
      LANG: "C.UTF-8",
    },
    files: {
      [path.join(configDir, "jupyter_notebook_config.json")]: JSON.stringify(jupyterConfig({ port: i.port, home: i.home, allowRoot: i.asRoot ?? false }), null, 2),
      [path.join(configDir, "jupyter_notebook_config.py")]: JUPYTER_CONFIG_PY,
      [path.join(configDir, "custom", "custom.js")]: JUPYTER_CUSTOM_JS,
    },
  };
}

/** Null when the command succeeds, else why not (its last line of stderr). */
function failureOf(file: string, args: string[], timeoutMs = 5000): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs }, (err, _stdout, stderr) => {
      if (!err) return resolve(null);
      const last = String(stderr).trim().split("\n").pop();
      resolve(last || err.message.split("\n")[0]!);
    });
  });
}

export function onPath(name: string, envPath = process.env.PATH ?? ""): boolean {
  return envPath.split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, name)));
}

/** Null when Docker can run containers here, else the reason (no client, or no daemon). */
export async function dockerProblem(): Promise<string | null> {
  if (!onPath("docker")) return "docker is not on the PATH";
  const failed = await failureOf("docker", ["info", "--format", "{{.ServerVersion}}"]);
  return failed ? `the docker client is installed but no Docker daemon answers (docker info: ${failed})` : null;
}

export interface RuntimeChoice {
  runtime: ConcreteRuntime;
  /** Why each runtime before it was passed over, in the order tried. */
  skipped: { runtime: ConcreteRuntime; reason: string }[];
  /** The Jupyter install, when the choice is jupyter. */
  jupyter: JupyterInstall | null;
}

/**
 * The first runtime that works on this machine for an app, in the documented order: Docker
 * RStudio, RStudio Server, the operator's command, Jupyter with the R kernel, the placeholder.
 * A Jupyter purpose skips the RStudio runtimes (they serve RStudio, not Jupyter).
 */
export async function detectRuntime(command: string | null, app: AppName = "rstudio", probes = { dockerProblem, findJupyter }): Promise<RuntimeChoice> {
  const skipped: RuntimeChoice["skipped"] = [];
  if (app === "rstudio") {
    const docker = await probes.dockerProblem();
    if (!docker) return { runtime: "docker", skipped, jupyter: null };
    skipped.push({ runtime: "docker", reason: docker });
    if (onPath("rserver")) return { runtime: "rserver", skipped, jupyter: null };
    skipped.push({ runtime: "rserver", reason: "rserver (RStudio Server) is not on the PATH" });
  } else {
    skipped.push({ runtime: "docker", reason: "it serves RStudio and the purpose's app is jupyter" }, { runtime: "rserver", reason: "it serves RStudio and the purpose's app is jupyter" });
  }
  if (command) return { runtime: "command", skipped, jupyter: null };
  skipped.push({ runtime: "command", reason: "POOL_LOCAL_COMMAND is not set" });
  const jupyter = await probes.findJupyter();
  if (jupyter.ok) return { runtime: "jupyter", skipped, jupyter: jupyter.install };
  skipped.push({ runtime: "jupyter", reason: jupyter.reason });
  return { runtime: "placeholder", skipped, jupyter: null };
}

/** The placeholder app: the bundled file next to the CLI, or the source through tsx in development. */
export function placeholderCommand(baseDir: string): LaunchCommand {
  const bundled = path.join(baseDir, "placeholder.js");
  if (existsSync(bundled)) return { file: process.execPath, args: [bundled] };
  const source = path.join(baseDir, "placeholder-app.ts");
  if (existsSync(source)) return { file: process.execPath, args: ["--import", "tsx", source] };
  const fromRoot = path.resolve(baseDir, "..", "..", "dist", "backend", "placeholder.js");
  return { file: process.execPath, args: [fromRoot] };
}
