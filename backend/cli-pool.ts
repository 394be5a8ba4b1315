/**
 * The operator's view of the pool from the command line, against the same store as `serve`:
 *   rstudio-pool pool ls       every live instance (owner, state, since, idle deadline, cost)
 *   rstudio-pool pool drain    release and terminate every instance (the backend stopped)
 *   rstudio-pool events        the history, filtered like GET /v1/admin/events
 * `npm start` leaves local instances running when it stops, by design (the next start finds
 * them again); `pool drain` is how an operator stops them for good.
 */
import type { Command } from "commander";
import type { PoolConfig } from "./config/schema";
import { PoolError } from "./errors";
import { createLogger } from "./log";
import { adminEvents, adminInstances, parseEventFilter, type AdminEvent, type AdminInstance } from "./pool/admin-views";
import { Pool } from "./pool/service";
import { createProvider } from "./providers/factory";
import { leaseHolder, listLiveInstances } from "./store/admin-reads";
import type { Store } from "./store/db";

type WithStore = <T>(fn: (store: Store, config: PoolConfig) => Promise<T>) => Promise<T>;

/** Tab-separated columns, one row a line, for reading and for `cut`/`awk`. */
function table(header: string[], rows: string[][]): string {
  return `${[header, ...rows].map((r) => r.join("\t")).join("\n")}\n`;
}

function instanceRows(list: AdminInstance[]): string {
  return table(
    ["INSTANCE", "PURPOSE", "STATE", "OWNER", "SINCE", "IDLE DEADLINE", "COST"],
    list.map((i) => [i.id, i.purpose, i.state, i.ownerId ?? "-", i.since, i.idleDeadline ?? "-", `${i.costSoFar.toFixed(2)} ${i.currency}`]),
  );
}

function eventRows(list: AdminEvent[]): string {
  return table(
    ["ID", "AT", "KIND", "INSTANCE", "USER", "ACTOR", "REASON"],
    list.map((e) => [String(e.id), e.at, e.kind, e.instanceId ?? "-", e.userId ?? "-", e.actor, e.reason ?? "-"]),
  );
}

const LIFECYCLE_LEASE = "lifecycle";

export function addPoolCommands(program: Command, withStore: WithStore): void {
  const pool = program.command("pool").description("see and stop the pool's instances");

  pool
    .command("ls")
    .description("list every live instance: owner, state, since, idle deadline, cost so far")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      await withStore(async (store, config) => {
        const list = await adminInstances(store.db, config, Date.now());
        process.stdout.write(opts.json ? `${JSON.stringify(list, null, 2)}\n` : instanceRows(list));
      });
    });

  pool
    .command("drain")
    .description("release and terminate every instance of the pool (stop `serve` first)")
    .option("--wait <seconds>", "how long to wait for the terminations", "120")
    .action(async (opts: { wait: string }) => {
      const waitMs = Number(opts.wait) * 1000;
      if (!Number.isFinite(waitMs) || waitMs <= 0) throw new PoolError("INVALID_REQUEST", "--wait must be a number of seconds.");
      await withStore(async (store, config) => {
        const lease = await leaseHolder(store.db, LIFECYCLE_LEASE);
        if (lease && lease.expiresAt > Date.now()) {
          throw new PoolError(
            "CONFLICT",
            `A backend is running on this store (its lifecycle lease runs until ${new Date(lease.expiresAt).toISOString()}). Stop it first: while it runs it would launch new warm spares.`,
          );
        }
        // No warm spares while draining: the warm step would launch what this terminates.
        const drained: PoolConfig = { ...config, purposes: config.purposes.map((p) => ({ ...p, minFree: 0 })) };
        const log = createLogger({ level: "warn" });
        const provider = await createProvider(drained, log);
        const p = new Pool({ config: drained, store, provider, log });
        try {
          await p.prepare();
          const live = await listLiveInstances(store.db);
          for (const inst of live) await p.releaseAny(inst.id, "drained by the operator", "cli");
          const deadline = Date.now() + waitMs;
          let left = live.length;
          for (let first = true; ; first = false) {
            await p.loop.tick({ forceReconcile: first || left > 0 });
            await p.loop.launcher.settle();
            left = (await listLiveInstances(store.db)).length;
            if (left === 0 || Date.now() > deadline) break;
            await new Promise((r) => setTimeout(r, 500));
          }
          process.stderr.write(`drained ${live.length - left} instance(s)${left ? `; ${left} still terminating (run drain again)` : ""}\n`);
          if (left) process.exitCode = 1;
        } finally {
          await p.stop();
          await provider.close();
        }
      });
    });

  program
    .command("events")
    .description("print the pool's history, newest first")
    .option("--user <userId>", "only events about this user")
    .option("--instance <id>", "only events about this instance")
    .option("--kind <kinds>", "comma-separated event kinds (launched, assigned, released, reaped, lost, ...)")
    .option("--since <time>", "at or after this time (ISO 8601 or epoch ms)")
    .option("--until <time>", "before this time")
    .option("--order <order>", "desc (newest first) or asc", "desc")
    .option("--limit <n>", "how many (at most 500)", "50")
    .option("--cursor <cursor>", "continue where the previous page ended (printed on stderr)")
    .option("--json", "print JSON")
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const { json, ...rest } = opts;
      const input = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      const filter = parseEventFilter(input);
      await withStore(async (store) => {
        const page = await adminEvents(store.db, filter);
        process.stdout.write(json ? `${JSON.stringify(page, null, 2)}\n` : eventRows(page.events));
        if (page.nextCursor && !json) process.stderr.write(`more: --cursor ${page.nextCursor}\n`);
      });
    });
}
