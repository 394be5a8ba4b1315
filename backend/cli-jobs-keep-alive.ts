/**
 * `rstudio-pool job keep-alive <instance>`: the terminal's "Keep Alive Until Job Ends", over
 * POST / GET / DELETE /v1/instances/:id/keep-alive.
 *   job keep-alive rsp-... --pid 4242 [--hours 8]   hold the instance while that process runs
 *   job keep-alive rsp-... --show                   the hold: cap, whether it ended and why, cost
 *   job keep-alive rsp-... --end                    end it early (the idle timeout applies again)
 * The hold is printed on stdout (tab-separated fields, or --json); what happened on stderr.
 */
import type { Command } from "commander";
import type { KeepAliveView } from "../contract/jobs";
import { act, client, money } from "./cli-jobs-action";
import { EXIT, JobCliError, parseKeepAlive } from "./cli-jobs-input";

function holdText(h: KeepAliveView): string {
  const rows: [string, string][] = [
    ["instance", h.instanceId],
    ["pid", String(h.pid)],
    ["until", h.until],
    ["state", h.endedReason === null ? "active" : `ended (${h.endedReason})`],
    ["cost since set", money(h.costSoFar, h.currency)],
  ];
  return rows.map(([k, v]) => `${k}:\t${v}`).join("\n") + "\n";
}

/** "No hold" answers NOT_FOUND, whose usual next step (is POOL_URL the backend?) would mislead here. */
function withHoldHint(instanceId: string, err: unknown): never {
  if (err instanceof JobCliError && err.code === "NOT_FOUND") {
    throw new JobCliError(err.code, err.message, err.exitCode, `Set one with \`rstudio-pool job keep-alive ${instanceId} --pid N\` (N: Sys.getpid() in the R console on the instance).`);
  }
  throw err;
}

export function addKeepAliveCommand(job: Command): void {
  job
    .command("keep-alive <instanceId>")
    .description("keep your instance from the idle reaper while a process on it runs (at most --hours); or --show / --end the hold")
    .option("--pid <pid>", "the process to wait for (Sys.getpid() in the R console on the instance)")
    .option("--hours <hours>", "the most hours to keep it, even if the process still runs (default 8; the pool allows at most 72)")
    .option("--show", "show the instance's hold")
    .option("--end", "end the hold now; the usual idle timeout applies again")
    .option("--json", "print the hold as JSON")
    .action(
      act(async (instanceId: string, opts: { pid?: string; hours?: string; show?: boolean; end?: boolean; json?: boolean }, cmd: Command) => {
        const what = parseKeepAlive(opts);
        const c = client(cmd);
        let hold: KeepAliveView;
        if (what.kind === "set") {
          hold = await c.keepAlive(instanceId, what.request);
          process.stderr.write(`keeping ${hold.instanceId} while pid ${hold.pid} runs, at most until ${hold.until}; then the usual idle timeout applies again\n`);
        } else if (what.kind === "show") {
          hold = await c.getKeepAlive(instanceId).catch((err: unknown) => withHoldHint(instanceId, err));
        } else {
          hold = await c.endKeepAlive(instanceId).catch((err: unknown) => withHoldHint(instanceId, err));
          const how = hold.endedReason === "cancelled" ? "ended the hold" : `the hold had already ended (${hold.endedReason})`;
          process.stderr.write(`${how} on ${hold.instanceId} (cost since it was set ${money(hold.costSoFar, hold.currency)}); the usual idle timeout applies again\n`);
        }
        process.stdout.write(opts.json ? `${JSON.stringify(hold, null, 2)}\n` : holdText(hold));
        return EXIT.ok;
      }),
    );
}
