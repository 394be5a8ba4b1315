/** Prometheus metrics of the pool. Pool sizes are read from the database at scrape time. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { StatementCounts } from "../store/db";

export interface PoolMetrics {
  registry: Registry;
  claims: Counter<"purpose" | "source">;
  claimsRefused: Counter<"purpose" | "code">;
  claimSeconds: Histogram<"purpose" | "source">;
  heartbeats: Counter;
  reaps: Counter<"purpose" | "reason">;
  launches: Counter<"purpose" | "outcome">;
  fixes: Counter<"kind">;
  transitions: Counter<"from" | "to">;
  poolSize: Gauge<"purpose" | "state" | "assigned">;
  httpRequests: Counter<"method" | "route" | "status">;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): PoolMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "rstudio_pool_" });
  return {
    registry,
    claims: new Counter({ name: "rstudio_pool_claims_total", help: "Claims served, by how", labelNames: ["purpose", "source"], registers: [registry] }),
    claimsRefused: new Counter({ name: "rstudio_pool_claims_refused_total", help: "Claims refused, by error code", labelNames: ["purpose", "code"], registers: [registry] }),
    claimSeconds: new Histogram({
      name: "rstudio_pool_claim_duration_seconds",
      help: "Time to answer a claim (not including the boot of a new instance)",
      labelNames: ["purpose", "source"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    heartbeats: new Counter({ name: "rstudio_pool_heartbeats_total", help: "Heartbeats accepted", registers: [registry] }),
    reaps: new Counter({ name: "rstudio_pool_reaps_total", help: "Instances taken back by the pool", labelNames: ["purpose", "reason"], registers: [registry] }),
    launches: new Counter({ name: "rstudio_pool_launches_total", help: "Provider launches, by outcome", labelNames: ["purpose", "outcome"], registers: [registry] }),
    fixes: new Counter({ name: "rstudio_pool_reconcile_fixes_total", help: "Differences fixed by the reconciler", labelNames: ["kind"], registers: [registry] }),
    transitions: new Counter({ name: "rstudio_pool_state_transitions_total", help: "Instance state changes, by from and to state", labelNames: ["from", "to"], registers: [registry] }),
    poolSize: new Gauge({ name: "rstudio_pool_instances", help: "Instances by purpose and state", labelNames: ["purpose", "state", "assigned"], registers: [registry] }),
    httpRequests: new Counter({ name: "rstudio_pool_http_requests_total", help: "HTTP requests", labelNames: ["method", "route", "status"], registers: [registry] }),
  };
}

/** The statements the store has sent, by kind, read from its counters at scrape time. */
export function registerStatementCounts(registry: Registry, counts: StatementCounts): void {
  const name = "rstudio_pool_db_statements_total";
  if (registry.getSingleMetric(name)) return;
  new Counter({
    name,
    help: "SQL statements sent to the database, by kind (read, write, transaction control)",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ kind: "read" }, counts.reads);
      this.inc({ kind: "write" }, counts.writes);
      this.inc({ kind: "transaction" }, counts.transactions);
    },
  });
}
