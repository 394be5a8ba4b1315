/**
 * Renders the instance bootstrap script (user-data.sh, next to this file and copied beside the
 * bundled backend) for one launch: every {{name}} becomes a single-quoted shell word, so no
 * configuration value can break out of its assignment. EC2 wants the result base64-encoded.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type { AppName } from "../../config/apps";
import type { Ec2PurposeConfig } from "../../config/schema";

export interface UserDataValues {
  mode: Ec2PurposeConfig["rstudioMode"];
  rstudioImage: string;
  rPackages: string[];
  frameOrigin: string;
  /** Launched for a user: RStudio waits until the backend has mounted their home. */
  waitForHome: boolean;
  /** The apps to run (the purpose's app and extra apps); default RStudio only. */
  apps?: AppName[];
  /** Jupyter's port on the instance, when it is one of the apps. */
  jupyterPort?: number;
}

/** Jupyter's CSP frame-ancestors for RStudio's frame origin setting ("any", or an origin). */
export function jupyterFrameAncestors(frameOrigin: string): string {
  // `*` matches network schemes only: VS Code's webview schemes are named as well.
  const webviews = "vscode-webview: vscode-file:";
  return frameOrigin === "any" ? `* ${webviews}` : `'self' ${webviews} ${frameOrigin}`;
}

/** EC2 refuses user data over 16 KB (before base64). */
export const USER_DATA_MAX_BYTES = 16 * 1024;

const cached = new Map<string, string>();

/** A script shipped next to this file (sources) or beside the bundled backend (dist). */
function shippedScript(name: string): string {
  const hit = cached.get(name);
  if (hit !== undefined) return hit;
  const candidates = [path.join(__dirname, name), path.join(__dirname, "providers", "ec2", name)];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`${name} not found next to the backend (looked in ${candidates.join(", ")})`);
  const text = readFileSync(file, "utf8");
  cached.set(name, text);
  return text;
}

export function userDataTemplate(): string {
  return shippedScript("user-data.sh");
}

/**
 * The spot watcher (spot-watcher.sh) as the user data carries it: without its comments,
 * gzipped and base64-encoded, because EC2's 16 KB limit on user data is close.
 */
export function spotWatcherPayload(script = shippedScript("spot-watcher.sh")): string {
  const lines = withoutComments(script).split("\n").filter((l) => l.trim() !== "");
  return gzipSync(Buffer.from(lines.join("\n") + "\n"), { level: 9 }).toString("base64");
}

/** A POSIX shell single-quoted word: 'it'\''s' */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function renderUserData(values: UserDataValues, template = userDataTemplate()): string {
  const words: Record<string, string> = {
    mode: values.mode,
    rstudioImage: values.rstudioImage,
    rPackages: values.rPackages.join(" "),
    frameOrigin: values.frameOrigin,
    waitForHome: values.waitForHome ? "1" : "0",
    spotWatcher: spotWatcherPayload(),
    apps: (values.apps ?? ["rstudio"]).join(" "),
    jupyterPort: String(values.jupyterPort ?? 8888),
    jupyterFrameAncestors: jupyterFrameAncestors(values.frameOrigin),
  };
  const text = withoutComments(template).replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    const v = words[name];
    if (v === undefined) throw new Error(`user-data template has an unknown placeholder ${whole}`);
    return shellQuote(v);
  });
  if (Buffer.byteLength(text) > USER_DATA_MAX_BYTES) {
    throw new Error(`rendered user data is ${Buffer.byteLength(text)} bytes; EC2 allows ${USER_DATA_MAX_BYTES}`);
  }
  return text;
}

/**
 * The template without its whole-line comments (shebangs stay): they explain the script in the
 * repo, and EC2's 16 KB limit has no room for them. Nothing in the script or its heredocs (shell,
 * systemd units, rserver.conf) gives a line starting with "#" a meaning beyond a comment.
 */
export function withoutComments(script: string): string {
  return script
    .split("\n")
    .filter((l) => !/^\s*#(?!!)/.test(l))
    .join("\n");
}

export function userDataBase64(values: UserDataValues): string {
  return Buffer.from(renderUserData(values), "utf8").toString("base64");
}
