/** Typed builders for the cost tests: a pool configuration and a migrated in-memory SQLite store. */
import type { PoolConfig } from "../../backend/config/schema";
import { openStore, type Store } from "../../backend/store/db";
import { migrateToLatest } from "../../backend/store/migrate";
import { baseConfig } from "../../sim/config";

export { purposeConfig as purpose } from "../../sim/config";
export { seededRandom } from "../../sim/random";

export function poolConfig(overrides: Partial<PoolConfig> = {}): PoolConfig {
  return baseConfig({ poolName: "test-pool", maxInstances: 100, ...overrides });
}

export async function memoryStore(): Promise<Store> {
  const store = openStore({ databaseUrl: "sqlite::memory:", dataDir: "/nonexistent" });
  await migrateToLatest(store);
  return store;
}
