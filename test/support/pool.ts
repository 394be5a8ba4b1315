/** Builds a Pool over a test store with the instant provider and a manual clock. */
import { Pool } from "../../backend/pool/service";
import type { PoolConfig } from "../../backend/config/schema";
import type { Provider } from "../../backend/providers/types";
import type { Store } from "../../backend/store/db";
import { aConfig, ManualClock } from "./builders";
import { InstantProvider } from "./instant-provider";

export interface PoolFixture {
  pool: Pool;
  provider: InstantProvider;
  clock: ManualClock;
  config: PoolConfig;
}

export async function makePool(
  store: Store,
  options: { config?: Partial<PoolConfig>; provider?: Provider; clock?: ManualClock } = {},
): Promise<PoolFixture> {
  const config = aConfig(options.config);
  const provider = (options.provider as InstantProvider) ?? new InstantProvider();
  const clock = options.clock ?? new ManualClock();
  const pool = new Pool({ config, store, provider, clock });
  await pool.prepare();
  return { pool, provider, clock, config };
}

/** Runs ticks until launches settle (launches run in the background of a tick). */
export async function settle(pool: Pool, ticks = 3): Promise<void> {
  for (let i = 0; i < ticks; i++) {
    await pool.loop.tick({ forceReconcile: i === 0 });
    await pool.loop.launcher.settle();
  }
}
