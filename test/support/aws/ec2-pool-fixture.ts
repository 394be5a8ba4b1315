/**
 * The set-up the EC2 pool tests share: one fake AWS server for the test file (started before its
 * tests, closed after them) and real Pools over a migrated SQLite store in a temp dir, each with
 * the EC2 provider and the real SDK clients pointed at the fake. Stores opened here are closed
 * with the server.
 */
import { after, before } from "node:test";
import type { PoolConfig } from "../../../backend/config/schema";
import { Pool } from "../../../backend/pool/service";
import type { Ec2Provider } from "../../../backend/providers/ec2/provider";
import { openStore, type Store } from "../../../backend/store/db";
import { migrateToLatest } from "../../../backend/store/migrate";
import { fakeProvider } from "./builders";
import { startFakeAws, type FakeAws } from "./fake-aws-server";

export interface Ec2PoolFixture {
  pool: Pool;
  provider: Ec2Provider;
  store: Store;
}

export interface FakeAwsForFile {
  /** The file's fake AWS server (only inside tests: it starts in `before`). */
  readonly fake: FakeAws;
  /** A prepared Pool on a fresh store, with the pool's clock and the provider's options given. */
  ec2Pool(config: PoolConfig, options?: { clock?: { now(): number }; provider?: Parameters<typeof fakeProvider>[1] }): Promise<Ec2PoolFixture>;
}

export function fakeAwsForFile(): FakeAwsForFile {
  let fake: FakeAws | undefined;
  const stores: Store[] = [];
  before(async () => {
    fake = await startFakeAws();
  });
  after(async () => {
    for (const s of stores) await s.close();
    await fake?.close();
  });
  const running = (): FakeAws => {
    if (!fake) throw new Error("the fake AWS server starts in before(): use it inside a test");
    return fake;
  };
  return {
    get fake() {
      return running();
    },
    async ec2Pool(config, options = {}) {
      const store = openStore({ databaseUrl: null, dataDir: config.dataDir });
      stores.push(store);
      await migrateToLatest(store);
      const provider = fakeProvider(running(), options.provider);
      const pool = new Pool({ config, store, provider, ...(options.clock ? { clock: options.clock } : {}) });
      await pool.prepare();
      return { pool, provider, store };
    },
  };
}
