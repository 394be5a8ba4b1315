/**
 * What every `rstudio-pool job ...` command shares: the client built from --url / --token-file
 * and the environment (cli-jobs-input.ts resolveConnection), and the wrapper that turns a
 * JobCliError into `error CODE: message`, its next step, and the exit code; how money prints.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import type { Command } from "commander";
import { JobsClient } from "./cli-jobs-client";
import { JobCliError, nextStep, resolveConnection } from "./cli-jobs-input";

interface GlobalOpts {
  url?: string;
  tokenFile?: string;
}

export function client(cmd: Command): JobsClient {
  const g = cmd.optsWithGlobals<GlobalOpts>();
  const conn = resolveConnection({
    urlFlag: g.url,
    tokenFileFlag: g.tokenFile,
    env: process.env,
    readFile: (f) => readFileSync(f, "utf8"),
    homeDir: homedir(),
  });
  return new JobsClient(conn);
}

/** Runs an action, printing a JobCliError as `error CODE: message` plus its next step, and setting the exit code. */
export function act<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === "number") process.exitCode = code;
    } catch (err) {
      if (!(err instanceof JobCliError)) throw err;
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      const next = err.next ?? nextStep(err.code);
      if (next) process.stderr.write(`${next}\n`);
      process.exitCode = err.exitCode;
    }
  };
}

/** "0.0014 USD": four decimals below a dime, so a short job's cost is not shown as 0.00. */
export function money(amount: number, currency: string): string {
  return `${amount > 0 && amount < 0.1 ? amount.toFixed(4) : amount.toFixed(2)} ${currency}`;
}
