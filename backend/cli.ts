/**
 * `rstudio-pool`: the backend's command line. `serve` runs the service; `user ...` manages API
 * users, and `pool ls|drain` and `events` show and stop the pool (cli-pool.ts), against the
 * same store (POOL_DATA_DIR / POOL_DATABASE_URL). Output meant for scripts
 * (a new token) is alone on stdout; everything else goes to stderr.
 */
import { Command, CommanderError } from "commander";
import { addJobCommands } from "./cli-jobs";
import { addPoolCommands } from "./cli-pool";
import { loadConfig } from "./config/load";
import type { PoolConfig } from "./config/schema";
import { PoolError } from "./errors";
import { createLogger } from "./log";
import { registerIamPolicyCommand } from "./providers/ec2/iam-policy-command";
import { buildReport, parseReportRequest, renderReport, REPORT_FORMATS } from "./cost/report";
import { ensureAdmin, serve } from "./server";
import { openStore, type Store } from "./store/db";
import { migrateToLatest } from "./store/migrate";
import { findUser, hashToken, insertToken, insertUser, listUsers, newToken, reactivateUser, revokeUser } from "./store/users";

const VERSION = "0.1.0";
const USER_ID = /^[A-Za-z0-9._@+-]{1,128}$/;

async function withStore<T>(fn: (store: Store, config: PoolConfig) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const store = openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    await migrateToLatest(store);
    await ensureAdmin(store, Date.now());
    return await fn(store, config);
  } finally {
    await store.close();
  }
}

function checkUserId(id: string): string {
  if (!USER_ID.test(id)) throw new PoolError("INVALID_REQUEST", `Invalid user id "${id}": use 1-128 letters, digits and . _ @ + -`);
  return id;
}

async function issueToken(store: Store, userId: string): Promise<string> {
  const token = newToken();
  await insertToken(store.db, userId, hashToken(token), Date.now());
  return token;
}

export function buildCli(): Command {
  const program = new Command("rstudio-pool")
    .description("RStudio Pool backend: a pool of RStudio hosts for VS Code users")
    .version(VERSION)
    .showHelpAfterError();

  program
    .command("serve")
    .description("run the pool service (configuration from the environment; see README)")
    .action(async () => {
      const config = loadConfig(process.env);
      const log = createLogger({ level: config.logLevel });
      const running = await serve({ config, log, version: VERSION });
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ event: "shutdown", signal }, "shutting down; instances keep running");
        await running.close();
        process.exit(0);
      };
      process.on("SIGINT", () => void stop("SIGINT"));
      process.on("SIGTERM", () => void stop("SIGTERM"));
    });

  program
    .command("migrate")
    .description("apply database migrations and exit")
    .action(async () => {
      await withStore(async (store) => {
        process.stderr.write(`database ${store.location} is up to date\n`);
      });
    });

  const user = program.command("user").description("manage API users and tokens");

  user
    .command("add <userId>")
    .description("create a user and print a new API token for them on stdout")
    .option("--admin", "the user may read admin reports")
    .action(async (userId: string, opts: { admin?: boolean }) => {
      checkUserId(userId);
      await withStore(async (store) => {
        const existing = await findUser(store.db, userId);
        if (existing && existing.revoked_at === null) {
          throw new PoolError("USER_EXISTS", `User "${userId}" exists; use \`user token ${userId}\` for another token.`);
        }
        if (existing) await reactivateUser(store.db, userId);
        else await insertUser(store.db, userId, opts.admin ?? false, Date.now());
        process.stdout.write(`${await issueToken(store, userId)}\n`);
      });
    });

  user
    .command("token <userId>")
    .description("print a new API token for an existing user on stdout")
    .action(async (userId: string) => {
      checkUserId(userId);
      await withStore(async (store) => {
        const existing = await findUser(store.db, userId);
        if (!existing || existing.revoked_at !== null) throw new PoolError("USER_NOT_FOUND", `No active user "${userId}"; create it with \`user add ${userId}\`.`);
        process.stdout.write(`${await issueToken(store, userId)}\n`);
      });
    });

  user
    .command("list")
    .description("list users")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      await withStore(async (store) => {
        const users = await listUsers(store.db);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(users, null, 2)}\n`);
          return;
        }
        const lines = [["USER", "ADMIN", "TOKENS", "CREATED", "REVOKED"].join("\t")];
        for (const u of users) {
          lines.push([u.id, u.isAdmin ? "yes" : "no", String(u.activeTokens), new Date(u.createdAt).toISOString(), u.revokedAt ? new Date(u.revokedAt).toISOString() : "-"].join("\t"));
        }
        process.stdout.write(`${lines.join("\n")}\n`);
      });
    });

  user
    .command("revoke <userId>")
    .description("revoke a user and all their tokens")
    .action(async (userId: string) => {
      checkUserId(userId);
      await withStore(async (store) => {
        if (!(await findUser(store.db, userId))) throw new PoolError("USER_NOT_FOUND", `No user "${userId}".`);
        const n = await revokeUser(store.db, userId, Date.now());
        process.stderr.write(`revoked user "${userId}" and ${n} token(s)\n`);
      });
    });

  program
    .command("costs")
    .description("print the cost report of a month (UTC) by user, purpose or cost tag")
    .option("--month <YYYY-MM>", "the month (default: this month)")
    .option("--by <grouping>", "user | purpose | tag", "user")
    .option("--format <format>", "table | csv | json", "table")
    .action(async (opts: { month?: string; by?: string; format?: string }) => {
      const config = loadConfig(process.env);
      const now = Date.now();
      const request = parseReportRequest(opts, REPORT_FORMATS.slice().reverse(), now);
      await withStore(async (store) => {
        process.stdout.write(renderReport(await buildReport(store.db, config, request, now), request.format));
      });
    });

  registerIamPolicyCommand(program);
  addPoolCommands(program, withStore);
  addJobCommands(program);

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildCli().exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (err instanceof PoolError) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      process.exit(err.code === "INVALID_CONFIG" ? 78 : 1);
    }
    process.stderr.write(`error: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  }
}

if (require.main === module) void main(process.argv);
