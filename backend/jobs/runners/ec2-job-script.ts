/**
 * The shell scripts the EC2 runner sends through Run Command (AWS-RunShellScript, run as root by
 * the SSM agent): start a job as the RStudio user in their mounted home, stop it, and ask whether
 * a process still runs. Pure functions from a job to the script's lines, so what reaches the
 * instance is unit-tested as text and run for real by the tests' fake instance.
 *
 * Where things are (backend/providers/ec2/user-data.sh): the user's home volume is mounted at
 * /srv/rstudio-home and owned by uid 1000, the user RStudio runs as (`rstudio`; baked mode runs
 * rserver on the host with /home/rstudio bound to the mount, container mode runs rocker's image
 * with the mount as /home/rstudio). A job runs the same way RStudio's R does:
 *  - baked (and Jupyter-only) hosts: on the host as uid 1000 (setpriv), whose traffic to IMDS the
 *    bootstrap rejects, so the job's R code cannot take the instance role's credentials;
 *  - container mode: `docker exec` in the rstudio container as uid 1000 (the container is one
 *    hop further than IMDS's hop limit allows).
 * Everything the job touches in the home is written as uid 1000, never as root: the home is the
 * user's, and a root write through a symlink they planted there would reach the host's files.
 * The environment is built from nothing (`env -i`): the job sees its own variables plus HOME,
 * USER, PATH and LANG, never the SSM agent's or the backend's.
 */
import type { JobSpec } from "../runner";
import { PoolError } from "../../errors";

/** The first line of every job script: how the tests' fake instance knows what to run for real. */
export const JOB_SCRIPT_MARKER = "# rstudio-pool-job";
export const HOME_MOUNT = "/srv/rstudio-home";
/** The home as the container sees it (container mode). */
export const CONTAINER_HOME = "/home/rstudio";
export const JOB_UID = 1000;
/** The job's own files (script copy, pid, exit code, full log) under the home. */
export const JOBS_DIR = ".rstudio-pool/jobs";
export const LOG_FILE = "output.log";
/**
 * Our cap on the rendered start script. AWS does not publish a per-parameter limit for
 * AWS-RunShellScript's `commands` that we could check offline; staying far below the request
 * size keeps SendCommand safe. Bigger inputs belong in the home (or S3), not in the command.
 */
export const MAX_SSM_SCRIPT_BYTES = 48 * 1024;
/** AWS-RunShellScript's executionTimeout accepts at most 172800 seconds (48 hours). */
export const MAX_EXECUTION_TIMEOUT_SECONDS = 172_800;
/**
 * Exit code of the start script when the job could not be set up (home not mounted, a file not
 * written): the reason goes to the command's stderr, prefixed "rstudio-pool: ". The job's own
 * output never goes there (it is redirected to stdout), so that prefix tells the two apart.
 */
export const EXIT_NOT_STARTED = 125;
export const NOT_STARTED_PREFIX = "rstudio-pool: ";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** One shell word, single-quoted: safe for any value (no expansion at all). */
export function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function checkRelativePath(p: string, what: string): void {
  const parts = p.split("/");
  if (!p || p.startsWith("/") || p.includes("\0") || parts.some((s) => s === ".." || s === "") || p.length > 1024) {
    throw new PoolError("INVALID_REQUEST", `${what} "${p}" must be a relative path inside the home, without "..".`);
  }
}

/** Refuses what the script cannot carry safely; the queue checks sizes and limits before this. */
export function validateJobForInstance(job: JobSpec): void {
  if (!SAFE_ID.test(job.jobId)) throw new PoolError("INVALID_REQUEST", `job id ${job.jobId} is not a plain id.`);
  if (!job.script && !job.command?.length) throw new PoolError("INVALID_REQUEST", "A job needs a script or a command.");
  if (job.script !== null && (job.scriptName.includes("/") || !SAFE_ID.test(job.scriptName))) {
    throw new PoolError("INVALID_REQUEST", `The script name "${job.scriptName}" must be a plain file name such as model.R.`);
  }
  for (const name of Object.keys(job.env)) {
    if (!ENV_NAME.test(name)) throw new PoolError("INVALID_REQUEST", `Environment variable name "${name}" is not valid (letters, digits and _; not starting with a digit).`);
  }
  for (const f of job.files) checkRelativePath(f.path, "File path");
}

/** What the job runs: Rscript on its copy of the script, or its own argv; then its args (shell words). */
function argvWords(job: JobSpec): string {
  const head = job.script !== null ? `Rscript --no-save --no-restore "$JOB_DIR"/${shq(job.scriptName)}` : (job.command ?? []).map(shq).join(" ");
  return [head, ...job.args.map(shq)].join(" ");
}

/** `env -i` words: the job's variables, then what it may not change (HOME is where its records are). */
function envWords(job: JobSpec, homeWord: string): string {
  const defaults = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" };
  const fixed = { USER: "rstudio", LOGNAME: "rstudio", RSTUDIO_POOL_JOB_ID: job.jobId };
  const { HOME: _home, ...own } = job.env;
  const words = Object.entries({ ...defaults, ...own, ...fixed }).map(([k, v]) => shq(`${k}=${v}`));
  return [homeWord, ...words].join(" ");
}

/**
 * The inner script, run as uid 1000 as the leader of its own session (so cancel can end the
 * whole process group, R's parallel workers included): records its pid, runs the job with its
 * output appended to the log in the home and copied to stdout (what Run Command reports), and
 * records the exit code.
 */
function innerScript(job: JobSpec): string {
  return [
    'cd "$HOME" || exit 1',
    `JOB_DIR="$HOME"/${shq(`${JOBS_DIR}/${job.jobId}`)}`,
    'echo $$ >"$JOB_DIR/pid"',
    `${argvWords(job)} 2>&1 | tee -a "$JOB_DIR/${LOG_FILE}"`,
    "code=${PIPESTATUS[0]}",
    'echo "$code" >"$JOB_DIR/exit-code"',
    'exit "$code"',
  ].join("\n");
}

/** Writes base64 content to a path as uid 1000 (the directory made as needed). */
function writeAsUser(pathWord: string, base64: string, what: string): string {
  return `printf '%s' ${shq(base64)} | as_user sh -c 'mkdir -p "$(dirname "$1")" && base64 -d >"$1"' sh ${pathWord} || ${notStarted(`could not write ${what} into the home`)}`;
}

function notStarted(reason: string): string {
  return `{ echo ${shq(NOT_STARTED_PREFIX + reason)} >&2; exit ${EXIT_NOT_STARTED}; }`;
}

/** The common prologue: where the home is, what mode the host runs, how to act as the user. */
function prologue(): string[] {
  return [
    // RSP_ROOT (never set on an instance) lets the tests run these scripts under a scratch directory.
    'R="${RSP_ROOT:-}"',
    `HOME_MOUNT="$R${HOME_MOUNT}"`,
    'MODE="$(cat "$R/etc/rstudio-pool/mode" 2>/dev/null || echo baked)"',
    `as_user() { setpriv --reuid=${JOB_UID} --regid=${JOB_UID} --clear-groups -- "$@"; }`,
  ];
}

/** The Run Command lines that start a job (see the module comment). */
export function startJobCommands(job: JobSpec): string[] {
  validateJobForInstance(job);
  const hostJobDir = `"$HOME_MOUNT"/${shq(`${JOBS_DIR}/${job.jobId}`)}`;
  const inner = shq(innerScript(job));
  const lines = [
    `${JOB_SCRIPT_MARKER} start ${job.jobId}`,
    "set -uo pipefail",
    ...prologue(),
    // Never on the root disk: a user's results must land in their home volume.
    `if [ -z "$R" ] && ! mountpoint -q "$HOME_MOUNT"; then ${notStarted(`the user's home is not mounted at ${HOME_MOUNT}`)}; fi`,
    `as_user mkdir -p ${hostJobDir} || ${notStarted("could not create the job's directory in the home")}`,
  ];
  if (job.script !== null) lines.push(writeAsUser(`${hostJobDir}/${shq(job.scriptName)}`, Buffer.from(job.script, "utf8").toString("base64"), "the script"));
  for (const f of job.files) lines.push(writeAsUser(`"$HOME_MOUNT"/${shq(f.path)}`, f.contentBase64, f.path.replace(/[^\w./-]/g, "_")));
  lines.push(
    // setsid forks (and returns at once) when its caller leads a process group; -w waits for the
    // child then. util-linux before 2.31 (Amazon Linux 2) lacks -w, but there our caller never leads one.
    'SETSID=setsid; setsid --help 2>&1 | grep -q -- --wait && SETSID="setsid -w"',
    'if [ "$MODE" = container ]; then',
    `  docker exec -u ${JOB_UID}:${JOB_UID} rstudio env -i ${envWords(job, shq(`HOME=${CONTAINER_HOME}`))} setsid -w bash -c ${inner}`,
    "else",
    `  as_user env -i ${envWords(job, '"HOME=$HOME_MOUNT"')} $SETSID bash -c ${inner}`,
    "fi",
  );
  const text = lines.join("\n");
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_SSM_SCRIPT_BYTES) {
    throw new PoolError(
      "SCRIPT_TOO_LARGE",
      `The job's script, files and environment make a ${bytes}-byte Run Command; EC2 jobs take at most ${MAX_SSM_SCRIPT_BYTES} bytes. Put large inputs in your home (or S3) and read them from the script.`,
    );
  }
  return [text];
}

/** Ends the job's process group as uid 1000 (TERM, then KILL after a grace period). */
export function cancelJobCommands(jobId: string, graceSeconds = 10): string[] {
  if (!SAFE_ID.test(jobId)) throw new PoolError("INVALID_REQUEST", `job id ${jobId} is not a plain id.`);
  const pidFile = (home: string) => shq(`${home}/${JOBS_DIR}/${jobId}/pid`);
  return [
    [
      `${JOB_SCRIPT_MARKER} cancel ${jobId}`,
      "set -u",
      ...prologue(),
      // Read as the user and kill as the user: a pid file they rewrote can only name their own processes.
      'if [ "$MODE" = container ]; then',
      `  run() { docker exec -u ${JOB_UID}:${JOB_UID} rstudio "$@"; }; PIDFILE=${pidFile(CONTAINER_HOME)}`,
      "else",
      `  run() { as_user "$@"; }; PIDFILE="$HOME_MOUNT"/${shq(`${JOBS_DIR}/${jobId}/pid`)}`,
      "fi",
      'pg="$(run cat "$PIDFILE" 2>/dev/null | tr -cd 0-9)"',
      'if [ -z "$pg" ] || [ "$pg" -le 1 ]; then echo "rstudio-pool-cancel: no process"; exit 0; fi',
      'run kill -TERM -- "-$pg" 2>/dev/null || true',
      `for _ in $(seq 1 ${graceSeconds}); do run kill -0 -- "-$pg" 2>/dev/null || { echo "rstudio-pool-cancel: ended"; exit 0; }; sleep 1; done`,
      'run kill -KILL -- "-$pg" 2>/dev/null || true',
      'echo "rstudio-pool-cancel: killed"',
    ].join("\n"),
  ];
}

/** Prints "alive=1" or "alive=0" for a pid (in the container's pid space in container mode, where R sees its own pid). */
export function processProbeCommands(pid: number): string[] {
  if (!Number.isInteger(pid) || pid < 2) throw new PoolError("INVALID_REQUEST", `pid ${pid} is not a process id.`);
  return [
    [
      `${JOB_SCRIPT_MARKER} probe ${pid}`,
      ...prologue(),
      'if [ "$MODE" = container ]; then probe() { docker exec rstudio kill -0 "$1"; }; else probe() { kill -0 "$1"; }; fi',
      `if probe ${pid} 2>/dev/null; then echo alive=1; else echo alive=0; fi`,
    ].join("\n"),
  ];
}

export function parseProbeOutput(stdout: string): boolean | null {
  const m = /alive=([01])/.exec(stdout);
  return m ? m[1] === "1" : null;
}
