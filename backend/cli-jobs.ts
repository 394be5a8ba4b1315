/**
 * `rstudio-pool job ...`: batch R jobs from a terminal, through the backend's HTTP API (not its
 * store, unlike `user` and `pool`: a user runs these from their laptop).
 *   job run model.R [args...] --purpose big-memory --env MODEL_CONFIG=... --file data.csv [--follow]
 *   job ls | job show <id> | job log [-f] <id> | job cancel <id> | job purposes
 *   job keep-alive <instance> --pid N [--hours H] | --show | --end   (cli-jobs-keep-alive.ts)
 * The backend is POOL_URL (or --url); the token comes from POOL_TOKEN, POOL_TOKEN_FILE or the
 * default token file, never from a flag (see cli-jobs-input.ts). What scripts read (a job id,
 * the log) is on stdout; progress and errors are on stderr. Exit codes: docs/jobs-client.md.
 */
import { readFileSync, statSync } from "node:fs";
import { Command } from "commander";
import type { JobView } from "../contract/jobs";
import { isJobFinal } from "../contract/jobs";
import { act, client, money } from "./cli-jobs-action";
import { followLog, type JobsClient } from "./cli-jobs-client";
import { buildJobRequest, EXIT, jobExitCode } from "./cli-jobs-input";
import { addKeepAliveCommand } from "./cli-jobs-keep-alive";

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function stateText(j: JobView): string {
  if (j.state === "queued" && j.queuePosition !== null) return `queued (#${j.queuePosition})`;
  return j.state;
}

/** "succeeded: exit 0, ran 12s, cost 0.0014 USD" */
export function outcomeText(j: JobView): string {
  const ran = j.startedAt && j.endedAt ? `, ran ${duration(Date.parse(j.endedAt) - Date.parse(j.startedAt))}` : "";
  const exit = j.exitCode !== null ? `exit ${j.exitCode}` : (j.stateReason ?? "no exit code");
  const why = j.exitCode !== null && j.stateReason && !/^exit \d+$/.test(j.stateReason) ? ` (${j.stateReason})` : "";
  return `${j.state}: ${exit}${why}${ran}, cost ${money(j.cost, j.currency)}`;
}

function table(header: string[], rows: string[][]): string {
  return `${[header, ...rows].map((r) => r.join("\t")).join("\n")}\n`;
}

/** A pause that ends early when `signal` aborts (Ctrl-C while following). */
function pause(signal: AbortSignal): (ms: number) => Promise<void> {
  return (ms) =>
    new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
}

/** Ctrl-C as an abort signal, installed before anything is sent so no interrupt can fall between. */
function interruptible(): { signal: AbortSignal; dispose: () => void } {
  const stop = new AbortController();
  const onInt = () => stop.abort();
  process.on("SIGINT", onInt);
  return { signal: stop.signal, dispose: () => process.removeListener("SIGINT", onInt) };
}

/** Follows to the end; Ctrl-C stops following (the job keeps running) and exits 130. */
async function follow(c: JobsClient, job: JobView, stop = interruptible()): Promise<number> {
  try {
    const ended = stop.signal.aborted ? null : await followLog(c, job.jobId, {
      write: (t) => process.stdout.write(t),
      sleep: pause(stop.signal),
      signal: stop.signal,
      onJob: (j) => {
        if (!isJobFinal(j.state)) process.stderr.write(`job ${j.jobId}: ${stateText(j)}${j.instanceId ? ` on ${j.instanceId}` : ""}\n`);
      },
    });
    if (!ended) {
      process.stderr.write(`\nstopped following; job ${job.jobId} keeps running (cancel it with \`rstudio-pool job cancel ${job.jobId}\`)\n`);
      return EXIT.cancelled;
    }
    process.stderr.write(`job ${ended.jobId} ${outcomeText(ended)}\n`);
    return jobExitCode(ended);
  } finally {
    stop.dispose();
  }
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function addJobCommands(program: Command): void {
  const job = program
    .command("job")
    .description("run R scripts as batch jobs on the pool (through the backend's API: POOL_URL, POOL_TOKEN)")
    .option("--url <url>", "the backend (default: $POOL_URL or http://127.0.0.1:8080)")
    .option("--token-file <file>", "read the API token from this file (default: $POOL_TOKEN, $POOL_TOKEN_FILE, ~/.config/rstudio-pool/token)");

  job
    .command("run <script> [args...]")
    .description("run an R script with Rscript on an instance of a purpose; prints the job id on stdout")
    .option("-p, --purpose <purpose>", "the purpose to run on (default: the pool's default purpose)")
    .option("-e, --env <NAME=value>", "an environment variable for the job (repeatable); NAME alone passes your own $NAME", collect, [])
    .option("--file <path>", "a file copied into the job's working directory beside the script (repeatable)", collect, [])
    .option("-f, --follow", "print the log until the job ends and exit with the job's exit code")
    .option("--json", "print the submitted job as JSON")
    .action(
      act(async (script: string, args: string[], opts: { purpose?: string; env: string[]; file: string[]; follow?: boolean; json?: boolean }, cmd: Command) => {
        const req = buildJobRequest({ script, args, purpose: opts.purpose, env: opts.env, ownEnv: process.env, files: opts.file }, process.cwd(), {
          size: (f) => statSync(f).size,
          read: (f) => readFileSync(f),
        });
        const c = client(cmd);
        const stop = opts.follow ? interruptible() : null;
        let j: JobView;
        try {
          j = await c.submit(req);
        } catch (err) {
          stop?.dispose();
          throw err;
        }
        process.stderr.write(`submitted job ${j.jobId} (${j.scriptName ?? script}) to ${j.purpose}: ${stateText(j)}\n`);
        if (!stop) {
          process.stdout.write(opts.json ? `${JSON.stringify(j, null, 2)}\n` : `${j.jobId}\n`);
          return EXIT.ok;
        }
        return follow(c, j, stop);
      }),
    );

  job
    .command("ls")
    .description("list your jobs, newest first")
    .option("--json", "print JSON")
    .action(
      act(async (opts: { json?: boolean }, cmd: Command) => {
        const jobs = await client(cmd).list();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
          return;
        }
        const sorted = [...jobs].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
        process.stdout.write(
          table(
            ["JOB", "STATE", "PURPOSE", "SCRIPT", "EXIT", "CREATED", "COST"],
            sorted.map((j) => [j.jobId, stateText(j), j.purpose, j.scriptName ?? "-", j.exitCode === null ? "-" : String(j.exitCode), j.createdAt, money(j.cost, j.currency)]),
          ),
        );
      }),
    );

  job
    .command("show <id>")
    .description("show one job: state, exit code, times, cost")
    .option("--json", "print JSON")
    .action(
      act(async (id: string, opts: { json?: boolean }, cmd: Command) => {
        const j = await client(cmd).get(id);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(j, null, 2)}\n`);
          return;
        }
        const rows: [string, string | null][] = [
          ["job", j.jobId],
          ["state", stateText(j)],
          ["reason", j.stateReason],
          ["purpose", j.purpose],
          ["runner", j.runner],
          ["script", j.scriptName],
          ["instance", j.instanceId],
          ["exit code", j.exitCode === null ? null : String(j.exitCode)],
          ["created", j.createdAt],
          ["started", j.startedAt],
          ["ended", j.endedAt],
          ["deadline", j.deadlineAt],
          ["cost", money(j.cost, j.currency)],
        ];
        process.stdout.write(rows.filter(([, v]) => v !== null).map(([k, v]) => `${k}:\t${v}`).join("\n") + "\n");
      }),
    );

  job
    .command("log <id>")
    .description("print a job's log (stdout and stderr of its R process)")
    .option("-f, --follow", "keep printing until the job ends, then exit with its exit code")
    .action(
      act(async (id: string, opts: { follow?: boolean }, cmd: Command) => {
        const c = client(cmd);
        if (opts.follow) return follow(c, await c.get(id));
        // What there is now: read until a chunk brings nothing more.
        let offset = 0;
        for (let i = 0; i < 10_000; i++) {
          const chunk = await c.log(id, offset);
          if (chunk.text) process.stdout.write(chunk.text);
          if (chunk.complete || !chunk.text || chunk.nextOffset === offset) break;
          offset = chunk.nextOffset;
        }
        return EXIT.ok;
      }),
    );

  job
    .command("cancel <id>")
    .description("cancel a job: a queued job never starts, a running one's process is stopped")
    .action(
      act(async (id: string, _opts: unknown, cmd: Command) => {
        const j = await client(cmd).cancel(id);
        process.stderr.write(`job ${j.jobId}: ${j.state}${j.stateReason ? ` (${j.stateReason})` : ""}\n`);
        return EXIT.ok;
      }),
    );

  job
    .command("purposes")
    .description("list the purposes jobs can run on, with their price per hour")
    .action(
      act(async (_opts: unknown, cmd: Command) => {
        const { purposes, defaultPurpose } = await client(cmd).purposes();
        process.stdout.write(
          table(
            ["PURPOSE", "PER HOUR", "DEFAULT", "DESCRIPTION"],
            purposes.map((p) => [p.name, p.hourlyPrice === null ? "-" : money(p.hourlyPrice, p.currency), p.name === defaultPurpose ? "yes" : "", p.description]),
          ),
        );
      }),
    );

  addKeepAliveCommand(job);
}
