/**
 * The composition root of `rstudio-pool serve`: opens and migrates the store, builds the
 * provider and the pool, starts the lifecycle loop and the HTTP server, and on first start
 * creates the admin user. Shutting down stops the loop and closes the store; instances keep
 * running, and the next start finds them again.
 */
import { createServer, type RequestListener, type Server } from "node:http";
import type { Logger } from "pino";
import { AddressInfo } from "node:net";
import { createApp } from "./api/app";
import { clientErrorHandler } from "./api/client-error";
import { sendJson } from "./api/errors";
import { PoolError } from "./errors";
import type { PoolConfig } from "./config/schema";
import { adminCostsRouter } from "./api/routes/admin-costs";
import { createCostPolicies } from "./cost/policies";
import { LedgerCostService } from "./cost/service";
import type { JobRunnerHooks } from "./jobs/runners";
import { Pool } from "./pool/service";
import { systemClock, type PoolPolicies, type Clock } from "./pool/context";
import { createMetrics } from "./pool/metrics";
import { createProvider } from "./providers/factory";
import type { Provider } from "./providers/types";
import { openStore, type Store } from "./store/db";
import { migrateToLatest } from "./store/migrate";
import { findUser, insertUser } from "./store/users";

export interface RunningServer {
  pool: Pool;
  store: Store;
  server: Server;
  url: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  config: PoolConfig;
  log: Logger;
  provider?: Provider;
  policies?: PoolPolicies;
  clock?: Clock;
  version?: string;
  /** Print the first-start hint for the admin token here (stderr by default). */
  announce?: (line: string) => void;
  /** The EC2 SSM and ECS job runners (issue #18; wired where they are built). */
  jobRunnerHooks?: JobRunnerHooks;
}

export const ADMIN_USER = "admin";

export async function ensureAdmin(store: Store, now: number): Promise<boolean> {
  if (await findUser(store.db, ADMIN_USER)) return false;
  await insertUser(store.db, ADMIN_USER, true, now);
  return true;
}

/**
 * Takes the port first, so a port in use says which variable to change before the database
 * or the provider is touched. Until the app is ready, requests get a 503 in the usual shape.
 */
export async function listenFirst(config: Pick<PoolConfig, "port" | "host">, log: Logger): Promise<{ server: Server; ready(handler: RequestListener): void }> {
  let handler: RequestListener = (_req, res) => sendJson(res, 503, { error: { code: "PROVIDER_UNAVAILABLE", message: "The backend is starting; try again in a few seconds." } });
  const server = createServer((req, res) => handler(req, res));
  server.on("clientError", clientErrorHandler(log));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(listenError(err, config)));
    server.listen(config.port, config.host, () => resolve());
  });
  return { server, ready: (h) => void (handler = h) };
}

function listenError(err: NodeJS.ErrnoException, config: Pick<PoolConfig, "port" | "host">): Error {
  const where = `${config.host}:${config.port}`;
  switch (err.code) {
    case "EADDRINUSE":
      return new PoolError("INVALID_CONFIG", `Invalid configuration: PORT: ${where} is already in use (another rstudio-pool serve?); set PORT to a free port, or HOST to another address`);
    case "EACCES":
      return new PoolError("INVALID_CONFIG", `Invalid configuration: PORT: not allowed to listen on ${where} (ports below 1024 need privileges); set PORT to 1024 or above`);
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new PoolError("INVALID_CONFIG", `Invalid configuration: HOST: ${config.host} is not an address of this machine; set HOST (127.0.0.1 listens on this machine only)`);
    default:
      return err;
  }
}

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const { config, log } = options;
  const { server, ready } = await listenFirst(config, log);
  try {
    return await serveOn(server, ready, options);
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }
}

async function serveOn(server: Server, ready: (h: RequestListener) => void, options: ServeOptions): Promise<RunningServer> {
  const { config, log } = options;
  const store = openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const applied = await migrateToLatest(store);
  if (applied.length) log.info({ event: "migrated", migrations: applied, store: store.location }, "database migrated");
  const provider = options.provider ?? (await createProvider(config, log));
  const metrics = createMetrics({ defaultMetrics: true });
  const clock = options.clock ?? systemClock;
  const policies = options.policies ?? createCostPolicies(store.db, config);
  const pool = new Pool({ config, store, provider, log, metrics, policies, clock, jobRunnerHooks: options.jobRunnerHooks });
  await pool.prepare();

  if (await ensureAdmin(store, Date.now())) {
    const say = options.announce ?? ((line: string) => process.stderr.write(`${line}\n`));
    say(`Created the admin user "${ADMIN_USER}". Get its API token with:`);
    say(`  npm run --silent pool -- user token ${ADMIN_USER}      (or: rstudio-pool user token ${ADMIN_USER})`);
  }

  const handler = createApp({
    pool,
    costs: new LedgerCostService(store.db, config, clock),
    log,
    version: options.version,
    extraV1: [adminCostsRouter(pool)],
  });
  ready(handler);
  server.keepAliveTimeout = 65_000;
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address.includes(":") ? `[${addr.address}]` : addr.address}:${addr.port}`;
  pool.start();
  log.info({ event: "listening", url, provider: provider.kind, store: store.dialect, purposes: config.purposes.map((p) => p.name) }, `RStudio Pool listening on ${url}`);

  let closed = false;
  return {
    pool,
    store,
    server,
    url,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await pool.stop();
      await provider.close();
      await store.close();
    },
  };
}
