/**
 * The pure part of `rstudio-pool job ...`: where the CLI finds the backend and the token, how
 * `--env K=V` and `--file path` become a JobRequest, how a job's outcome becomes the CLI's exit
 * code, and the next step printed under each error code. No I/O except reading the files asked
 * for (through an injected reader), so every rule here is unit-tested.
 */
import path from "node:path";
import type { JobFile, JobRequest, JobView, KeepAliveRequest } from "../contract/jobs";

/** The CLI's own failures, with a stable code like the backend's and the exit code they end the CLI with. */
export class JobCliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode = 1,
    /** What to do next when it differs from the code's usual step (nextStep). */
    readonly next?: string,
  ) {
    super(message);
    this.name = "JobCliError";
  }
}

/** Exit codes of `job ...` (docs/jobs-client.md). A followed job passes its own exit code through. */
export const EXIT = {
  ok: 0,
  /** The backend refused or could not be reached: the error code is on stderr. */
  error: 1,
  /** Bad arguments (a malformed --env, a missing file); nothing was sent. */
  usage: 2,
  /** The job was cancelled (by someone, or its maximum runtime). */
  cancelled: 130,
} as const;

/** Environment variable names a job may set: what a POSIX shell accepts. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `--env NAME=value` (repeatable); the value may contain `=`; a later NAME wins, as in a shell.
 * `--env NAME` alone takes the value from the CLI's own environment (as `docker run -e NAME`
 * does), so a secret need not be written on a command line that `ps` shows.
 */
export function parseEnvPairs(pairs: readonly string[], own: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (!ENV_NAME.test(name)) throw new JobCliError("INVALID_REQUEST", `--env ${pair}: "${name}" is not a variable name (letters, digits and _, not starting with a digit); use NAME=value or NAME`, EXIT.usage);
    if (eq >= 0) env[name] = pair.slice(eq + 1);
    else if (own[name] !== undefined) env[name] = own[name]!;
    else throw new JobCliError("INVALID_REQUEST", `--env ${name}: ${name} is not set in your environment; give it as --env ${name}=value or export it first`, EXIT.usage);
  }
  return env;
}

/**
 * Where a `--file` lands in the job's working directory: a relative path inside the current
 * directory keeps its relative path (data/x.csv stays data/x.csv, so the script's relative
 * reads work); anything else (absolute, or reaching out with ..) lands under its base name.
 */
export function remoteFilePath(given: string, cwd: string): string {
  const abs = path.resolve(cwd, given);
  const rel = path.relative(cwd, abs);
  if (!path.isAbsolute(given) && rel && !rel.startsWith("..") && !path.isAbsolute(rel)) return rel.split(path.sep).join("/");
  return path.basename(abs);
}

/** Refused before reading: the largest limit a purpose may set (backend/config/jobs.ts maxScriptBytes). */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

export interface FileReader {
  size(file: string): number;
  read(file: string): Buffer;
}

export interface RunInput {
  /** The CLI's own environment, for `--env NAME` without a value. */
  ownEnv?: Record<string, string | undefined>;
  script: string;
  args: string[];
  purpose?: string;
  env: string[];
  files: string[];
}

/**
 * The script's name on the instance: the backend takes a plain file name (letters, digits,
 * . _ -, starting with a letter or digit, at most 100 characters): others become _.
 */
export function jobScriptName(file: string): string {
  let safe = path.basename(file).replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[^A-Za-z0-9]+/, "");
  if (safe.length > 100) safe = safe.slice(0, 98) + safe.slice(-2);
  return safe || "job.R";
}

/** The POST /v1/jobs body for `job run`. Missing files and oversized uploads fail here, before anything is sent. */
export function buildJobRequest(input: RunInput, cwd: string, reader: FileReader): JobRequest {
  const env = parseEnvPairs(input.env, input.ownEnv);
  const all = [input.script, ...input.files];
  let total = 0;
  for (const f of all) {
    let size: number;
    try {
      size = reader.size(path.resolve(cwd, f));
    } catch {
      throw new JobCliError("INVALID_REQUEST", `${f}: no such file`, EXIT.usage);
    }
    total += size;
  }
  if (total > MAX_UPLOAD_BYTES) {
    throw new JobCliError("SCRIPT_TOO_LARGE", `the script and its files are ${total} bytes, over ${MAX_UPLOAD_BYTES}; put large inputs in your home on the pool (or S3) and read them from the script`, EXIT.usage);
  }
  const seen = new Map<string, string>();
  const files: JobFile[] = input.files.map((f) => {
    const dest = remoteFilePath(f, cwd);
    const before = seen.get(dest);
    if (before) throw new JobCliError("INVALID_REQUEST", `--file ${f} and --file ${before} would both be ${dest} in the job's directory`, EXIT.usage);
    seen.set(dest, f);
    return { path: dest, contentBase64: reader.read(path.resolve(cwd, f)).toString("base64") };
  });
  const scriptName = jobScriptName(input.script);
  if (seen.has(scriptName)) throw new JobCliError("INVALID_REQUEST", `--file ${seen.get(scriptName)} has the script's own name ${scriptName}`, EXIT.usage);
  return {
    ...(input.purpose ? { purpose: input.purpose } : {}),
    script: reader.read(path.resolve(cwd, input.script)).toString("utf8"),
    scriptName,
    ...(input.args.length ? { args: input.args } : {}),
    ...(Object.keys(env).length ? { env } : {}),
    ...(files.length ? { files } : {}),
  };
}

/** What `job run --follow` and `job log -f` exit with once the job has ended. */
export function jobExitCode(job: Pick<JobView, "state" | "exitCode">): number {
  if (job.state === "succeeded") return EXIT.ok;
  if (job.state === "cancelled") return EXIT.cancelled;
  if (job.exitCode !== null && Number.isInteger(job.exitCode) && job.exitCode > 0 && job.exitCode < 256) return job.exitCode;
  return EXIT.error; // failed without an exit code of its own (lost instance, signal, runtime cap)
}

export interface Connection {
  url: string;
  token: string;
  /** Where the token came from, for messages (never the token itself). */
  tokenSource: string;
}

export interface ConnectionSources {
  urlFlag?: string;
  tokenFileFlag?: string;
  env: Record<string, string | undefined>;
  /** Reads a token file; throws when it does not exist. */
  readFile: (file: string) => string;
  homeDir: string;
}

export const DEFAULT_URL = "http://127.0.0.1:8080";

/** The default token file: $XDG_CONFIG_HOME/rstudio-pool/token (or ~/.config/...). */
export function defaultTokenFile(env: Record<string, string | undefined>, homeDir: string): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(homeDir, ".config"), "rstudio-pool", "token");
}

/**
 * The backend URL (--url, POOL_URL, default) and the token. The token is read from the
 * environment or a file, never from a flag: a command line is visible to every user in `ps`.
 * Order: --token-file, POOL_TOKEN, POOL_TOKEN_FILE, RSTUDIO_POOL_TOKEN (what the extension
 * reads), then the default token file.
 */
export function resolveConnection(s: ConnectionSources): Connection {
  const url = (s.urlFlag || s.env.POOL_URL || DEFAULT_URL).trim().replace(/\/+$/, "");
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http");
  } catch {
    throw new JobCliError("INVALID_REQUEST", `the backend address "${url}" is not an http(s) URL; set POOL_URL or --url`, EXIT.usage);
  }
  const fromFile = (file: string, source: string): Connection => {
    let text: string;
    try {
      text = s.readFile(file);
    } catch {
      throw new JobCliError("UNAUTHORIZED", `cannot read the token file ${file} (${source})`, EXIT.usage);
    }
    const token = text.trim();
    if (!token) throw new JobCliError("UNAUTHORIZED", `the token file ${file} (${source}) is empty`, EXIT.usage);
    return { url, token, tokenSource: `${source} ${file}` };
  };
  if (s.tokenFileFlag) return fromFile(s.tokenFileFlag, "--token-file");
  if (s.env.POOL_TOKEN?.trim()) return { url, token: s.env.POOL_TOKEN.trim(), tokenSource: "POOL_TOKEN" };
  if (s.env.POOL_TOKEN_FILE) return fromFile(s.env.POOL_TOKEN_FILE, "POOL_TOKEN_FILE");
  if (s.env.RSTUDIO_POOL_TOKEN?.trim()) return { url, token: s.env.RSTUDIO_POOL_TOKEN.trim(), tokenSource: "RSTUDIO_POOL_TOKEN" };
  const file = defaultTokenFile(s.env, s.homeDir);
  try {
    return fromFile(file, "the default token file");
  } catch {
    throw new JobCliError(
      "NOT_SIGNED_IN",
      `no API token: set POOL_TOKEN (or POOL_TOKEN_FILE), or save it to ${file}; your admin makes one with \`rstudio-pool user token <you>\``,
      EXIT.usage,
    );
  }
}

/** `job keep-alive`'s default cap, as the extension's Keep Alive Until Job Ends offers. */
export const DEFAULT_HOLD_HOURS = 8;

export type KeepAliveAction = { kind: "set"; request: KeepAliveRequest } | { kind: "show" } | { kind: "end" };

/**
 * `job keep-alive <instance> --pid N [--hours H] | --show | --end`: exactly one of the three.
 * The pid and hours are checked for shape only; the backend owns the limits (maxHours <= 72)
 * and answers INVALID_REQUEST past them, so the CLI never disagrees with it.
 */
export function parseKeepAlive(o: { pid?: string; hours?: string; show?: boolean; end?: boolean }): KeepAliveAction {
  const chosen = [o.pid !== undefined, !!o.show, !!o.end].filter(Boolean).length;
  if (chosen !== 1) throw new JobCliError("INVALID_REQUEST", "give exactly one of --pid N (set a hold), --show or --end", EXIT.usage);
  if (o.hours !== undefined && o.pid === undefined) throw new JobCliError("INVALID_REQUEST", "--hours goes with --pid (it is the hold's cap)", EXIT.usage);
  if (o.show) return { kind: "show" };
  if (o.end) return { kind: "end" };
  if (!/^[1-9]\d{0,9}$/.test(o.pid!)) {
    throw new JobCliError("INVALID_REQUEST", `--pid ${o.pid}: a process id (a positive integer); run Sys.getpid() in the R console on the instance`, EXIT.usage);
  }
  const hours = o.hours === undefined ? DEFAULT_HOLD_HOURS : Number(o.hours);
  if (!Number.isFinite(hours) || hours <= 0 || (o.hours !== undefined && !/^\d+(\.\d+)?$/.test(o.hours))) {
    throw new JobCliError("INVALID_REQUEST", `--hours ${o.hours}: a number of hours above 0 (the pool allows at most 72)`, EXIT.usage);
  }
  return { kind: "set", request: { pid: Number(o.pid), maxHours: hours } };
}

/** The next step printed under an error, by code; the backend's message says what went wrong. */
const NEXT_STEP: Record<string, string> = {
  UNAUTHORIZED: "Check your token (POOL_TOKEN / POOL_TOKEN_FILE); your admin makes a new one with `rstudio-pool user token <you>`.",
  BACKEND_UNREACHABLE: "Check that the backend runs and POOL_URL (or --url) points at it.",
  TIMEOUT: "Try again; if it keeps happening, ask your admin to look at the backend.",
  UNKNOWN_PURPOSE: "See the purposes with `rstudio-pool job purposes` and pass one with --purpose.",
  SCRIPT_TOO_LARGE: "Put large inputs in your home on the pool (or S3) and read them from the script.",
  JOB_LIMIT: "Wait for one of your jobs to end (`rstudio-pool job ls`) or cancel one (`rstudio-pool job cancel <id>`).",
  JOB_NOT_FOUND: "List your jobs with `rstudio-pool job ls`.",
  JOB_ENDED: "Nothing to do: see how it ended with `rstudio-pool job show <id>`.",
  JOB_LOG_EXPIRED: "The log is not kept any longer; see how the job ended with `rstudio-pool job show <id>`.",
  BUDGET_EXCEEDED: "Ask your admin to raise your budget, or wait for next month.",
  POOL_EXHAUSTED: "Try again in a few minutes.",
  INSTANCE_NOT_FOUND: "List your instances in VS Code or with GET /v1/instances.",
  INSTANCE_NOT_RUNNING: "The instance is not running any more; claim a new one.",
  PAYLOAD_TOO_LARGE: "Send fewer or smaller --file inputs; put large inputs in your home on the pool.",
  NOT_FOUND: "Is POOL_URL the RStudio Pool backend, and is it new enough to run jobs?",
  BAD_RESPONSE: "Is POOL_URL the RStudio Pool backend?",
};

export function nextStep(code: string): string | null {
  return NEXT_STEP[code] ?? null;
}
