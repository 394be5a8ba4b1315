/**
 * What "Run R Script on Pool" and "Keep Alive Until Job Ends" ask the user, as plain rules: the
 * env input box (NAME=value; NAME2=value), the R process's pid and the hours cap, and the
 * POST /v1/jobs body built from the open file. Each validator returns the message an input
 * box shows, or undefined when the input is fine.
 */
import type { JobRequest } from "../../../contract/jobs";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether a file name is an R script (what the menus' when-clauses check too: .R or .r). */
export function isRScript(fileName: string): boolean {
  return /\.[Rr]$/.test(fileName);
}

export type EnvParse = { ok: true; env: Record<string, string> } | { ok: false; error: string };

/**
 * "MODEL_CONFIG=small.yaml; SEED=7": pairs split on `;` (a value holding `;` escapes it as
 * `\;`), each NAME=value with the value taken verbatim after the first `=` (spaces around a
 * pair are trimmed). Empty input is no variables.
 */
export function parseEnvInput(input: string): EnvParse {
  const env: Record<string, string> = {};
  const pairs = input.split(/(?<!\\);/).map((p) => p.trim()).filter(Boolean);
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 0) return { ok: false, error: `"${pair}" is not NAME=value (separate variables with ;)` };
    const name = pair.slice(0, eq).trim();
    if (!ENV_NAME.test(name)) return { ok: false, error: `"${name}" is not a variable name: letters, digits and _, not starting with a digit` };
    env[name] = pair.slice(eq + 1).replace(/\\;/g, ";");
  }
  return { ok: true, env };
}

export function validateEnvInput(input: string): string | undefined {
  const r = parseEnvInput(input);
  return r.ok ? undefined : r.error;
}

/** The input box's text for a set of variables (to offer the last ones again). */
export function formatEnvInput(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${v.replace(/;/g, "\\;")}`).join("; ");
}

/**
 * The name the job's script gets on the instance: the backend takes a plain file name
 * (letters, digits, . _ -, starting with a letter or digit, at most 100), so "my model (v2).R"
 * becomes "my_model__v2_.R".
 */
export function jobScriptName(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() || "script.R";
  const withExt = isRScript(base) ? base : `${base}.R`;
  let safe = withExt.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[^A-Za-z0-9]+/, "");
  if (safe.length > 100) safe = safe.slice(0, 98) + safe.slice(-2);
  return isRScript(safe) && safe.length > 2 ? safe : "script.R";
}

/** The body of POST /v1/jobs for a script open in the editor. */
export function scriptJobRequest(fileName: string, text: string, purpose: string | undefined, env: Record<string, string>): JobRequest {
  return {
    ...(purpose ? { purpose } : {}),
    script: text,
    scriptName: jobScriptName(fileName),
    ...(Object.keys(env).length ? { env } : {}),
  };
}

export function validatePid(input: string): string | undefined {
  const t = input.trim();
  if (!/^\d+$/.test(t) || Number(t) < 2 || Number(t) > 4_194_304) return "The R process's pid: a whole number (run Sys.getpid() in its R console)";
  return undefined;
}

/** The cap a user may ask for here; the backend may hold a lower limit and says so. */
export const MAX_HOLD_HOURS = 72;

export function validateMaxHours(input: string): string | undefined {
  const n = Number(input.trim());
  if (!input.trim() || !Number.isFinite(n) || n <= 0 || n > MAX_HOLD_HOURS) return `Hours to keep the instance at most: a number above 0, up to ${MAX_HOLD_HOURS}`;
  return undefined;
}
