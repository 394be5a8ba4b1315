/**
 * Renders the instance bootstrap script (user-data.sh, next to this file and copied beside the
 * bundled backend) for one launch: every {{name}} becomes a single-quoted shell word, so no
 * configuration value can break out of its assignment. EC2 wants the result base64-encoded.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { AppName } from "../../config/apps";
import type { Ec2PurposeConfig } from "../../config/schema";

export interface UserDataValues {
  mode: Ec2PurposeConfig["rstudioMode"];
  rstudioImage: string;
  rPackages: string[];
  frameOrigin: string;
  /** The owner's home volume to mount at boot; null for warm instances. */
  homeVolumeId: string | null;
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

let cached: string | null = null;

export function userDataTemplate(): string {
  if (cached !== null) return cached;
  const candidates = [path.join(__dirname, "user-data.sh"), path.join(__dirname, "providers", "ec2", "user-data.sh")];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`user-data.sh not found next to the backend (looked in ${candidates.join(", ")})`);
  cached = readFileSync(file, "utf8");
  return cached;
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
    homeVolumeId: values.homeVolumeId ?? "",
    apps: (values.apps ?? ["rstudio"]).join(" "),
    jupyterPort: String(values.jupyterPort ?? 8888),
    jupyterFrameAncestors: jupyterFrameAncestors(values.frameOrigin),
  };
  const text = template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    const v = words[name];
    if (v === undefined) throw new Error(`user-data template has an unknown placeholder ${whole}`);
    return shellQuote(v);
  });
  if (Buffer.byteLength(text) > USER_DATA_MAX_BYTES) {
    throw new Error(`rendered user data is ${Buffer.byteLength(text)} bytes; EC2 allows ${USER_DATA_MAX_BYTES}`);
  }
  return text;
}

export function userDataBase64(values: UserDataValues): string {
  return Buffer.from(renderUserData(values), "utf8").toString("base64");
}
