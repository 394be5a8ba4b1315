/**
 * The pool configuration the simulator runs with (also the base of the cost tests'
 * configurations): the production loader's defaults for an in-memory SQLite store, with the
 * given fields replaced.
 */
import { loadConfig } from "../backend/config/load";
import { purposeSchema, type PoolConfig, type PurposeConfig } from "../backend/config/schema";

export function purposeConfig(input: Partial<PurposeConfig> & { name: string }): PurposeConfig {
  return purposeSchema.parse(input);
}

export function baseConfig(overrides: Partial<PoolConfig> = {}): PoolConfig {
  const defaults = loadConfig({ POOL_NAME: "sim-pool", POOL_DATABASE_URL: "sqlite::memory:", POOL_LOCAL_RUNTIME: "placeholder", LOG_LEVEL: "silent" });
  return { ...defaults, purposes: [purposeConfig({ name: "default" })], maxInstances: 1000, ...overrides };
}
