/** The pool configuration the simulator runs with (also the base of the cost tests' configurations). */
import { purposeSchema, type PoolConfig, type PurposeConfig } from "../backend/config/schema";

export function purposeConfig(input: Partial<PurposeConfig> & { name: string }): PurposeConfig {
  return purposeSchema.parse(input);
}

export function baseConfig(overrides: Partial<PoolConfig> = {}): PoolConfig {
  return {
    poolName: "sim-pool",
    port: 0,
    host: "127.0.0.1",
    dataDir: "/nonexistent",
    databaseUrl: "sqlite::memory:",
    provider: "local",
    region: "us-east-1",
    maxInstances: 1000,
    currency: "USD",
    warmPolicy: "static",
    serviceLevel: 0.95,
    appKey: null,
    proxyKey: null,
    local: { runtime: "placeholder", command: null },
    purposes: [purposeConfig({ name: "default" })],
    budgets: { users: {}, warnAt: 0.8, exceededIdleTimeoutSeconds: 600 },
    tickMs: 1000,
    reconcileMs: 30_000,
    logLevel: "silent",
    ...overrides,
  };
}
