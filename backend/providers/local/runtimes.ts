/**
 * How the local provider starts an "instance": the command line for each runtime, and the
 * auto-detection that picks the first runtime that works here (docker, rserver, command,
 * placeholder). Pure argument building is kept apart from detection so it is unit-tested.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import type { LocalRuntime } from "../../config/schema";

export type ConcreteRuntime = Exclude<LocalRuntime, "auto">;

export interface LaunchCommand {
  file: string;
  args: string[];
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
  }
}

function succeeds(file: string, args: string[], timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs }, (err) => resolve(!err));
  });
}

export function onPath(name: string, envPath = process.env.PATH ?? ""): boolean {
  return envPath.split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, name)));
}

/** The first runtime that works on this machine, in the documented order. */
export async function detectRuntime(command: string | null): Promise<ConcreteRuntime> {
  if (onPath("docker") && (await succeeds("docker", ["info", "--format", "{{.ServerVersion}}"]))) return "docker";
  if (onPath("rserver")) return "rserver";
  if (command) return "command";
  return "placeholder";
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
