/**
 * Finds out whether session-manager-plugin is installed and new enough (it must read the session
 * response from an environment variable). Missing or too old gives an error that states the
 * cause only; the next step (the install link, the setting) is added once by describeFailure.
 */
import { execFile } from "node:child_process";
import { ExtensionError } from "../errors";

/** Oldest plugin version we accept: the env-var handover of the session response must be there. */
export const MIN_PLUGIN_VERSION = "1.2.536.0";
const SETTING = "rstudioPool.sessionManagerPluginPath";

export type RunVersion = (path: string) => Promise<string>;

export const runVersion: RunVersion = (path) =>
  new Promise((resolve, reject) => {
    execFile(path, ["--version"], { timeout: 10_000, windowsHide: true }, (err, stdout) => (err ? reject(err) : resolve(String(stdout))));
  });

export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Resolves to the plugin's version, or throws PLUGIN_MISSING / PLUGIN_TOO_OLD. */
export async function checkPlugin(path: string, run: RunVersion = runVersion): Promise<string> {
  let out: string;
  try {
    out = await run(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? `"${path}" was not found` : code === "EACCES" ? `"${path}" is not executable` : `"${path} --version" failed (${(err as Error).message})`;
    throw new ExtensionError("PLUGIN_MISSING", `rstudioPool.tunnel asks for session-manager-plugin, and ${why}`, { setting: SETTING, cause: err });
  }
  const version = /\d+\.\d+\.\d+(?:\.\d+)?/.exec(out)?.[0];
  if (!version) {
    throw new ExtensionError("PLUGIN_MISSING", `"${path} --version" did not print a version; is ${SETTING} the session-manager-plugin?`, { setting: SETTING });
  }
  if (compareVersions(version, MIN_PLUGIN_VERSION) < 0) {
    throw new ExtensionError("PLUGIN_TOO_OLD", `session-manager-plugin ${version} is too old (${MIN_PLUGIN_VERSION} or newer is needed)`, { setting: SETTING });
  }
  return version;
}
