/** Small typed builders for test data: configs, purposes and clocks. */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { purposeSchema, type PoolConfig, type PurposeConfig } from "../../backend/config/schema";
import type { Clock } from "../../backend/pool/context";

export function aPurpose(overrides: Partial<PurposeConfig> & { name?: string } = {}): PurposeConfig {
  return { ...purposeSchema.parse({ name: overrides.name ?? "rstudio" }), ...overrides };
}

export function aConfig(overrides: Partial<PoolConfig> = {}): PoolConfig {
  const purposes = overrides.purposes ?? [aPurpose()];
  return {
    poolName: "test-pool",
    port: 0,
    host: "127.0.0.1",
    dataDir: overrides.dataDir ?? tempDir("pool-data-"),
    databaseUrl: null,
    provider: "local",
    region: "us-east-1",
    maxInstances: purposes.reduce((s, p) => s + p.max, 0),
    currency: "USD",
    warmPolicy: "static",
    serviceLevel: 0.95,
    appKey: "app-key-for-tests",
    proxyKey: "proxy-key-for-tests",
    local: { runtime: "placeholder", command: null },
    budgets: { users: {}, warnAt: 0.8, exceededIdleTimeoutSeconds: 600 },
    tickMs: 60_000,
    reconcileMs: 60_000,
    logLevel: "silent",
    ...overrides,
    purposes,
  };
}

export function tempDir(prefix = "rstudio-pool-test-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(public ms = Date.UTC(2026, 10, 23, 9, 0, 0)) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
