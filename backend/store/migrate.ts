/**
 * Versioned migrations, applied in name order on start-up (and by `rstudio-pool migrate`).
 * Migrations are imported statically so they survive bundling; add a new timestamped file and
 * list it here, never edit one that has shipped.
 */
import { Migrator, type Migration, type MigrationProvider, type MigrationResultSet } from "kysely";
import type { Store } from "./db";
import { init } from "./migrations/20261123_0001_init";
import { spotPrices } from "./migrations/20261124_0002_spot_prices";
import { handOverAndLiveIndex } from "./migrations/20261125_0003_hand_over_and_live_index";
import { purposePrices } from "./migrations/20261201_0004_purpose_prices";
import { warmCalibration } from "./migrations/20261201_0005_warm_calibration";
import { instanceJob } from "./migrations/20261202_0006_instance_job";
import { jobs } from "./migrations/20261202_0007_jobs";
import { claimIndex } from "./migrations/20261202_0008_claim_index";
import { tickIndexes } from "./migrations/20261202_0009_tick_indexes";
import { narrowLiveIndex } from "./migrations/20261202_0011_narrow_live_index";

function migrationsFor(store: Store): Record<string, Migration> {
  return {
    "20261123_0001_init": init(store.dialect),
    "20261124_0002_spot_prices": spotPrices(),
    "20261125_0003_hand_over_and_live_index": handOverAndLiveIndex(),
    "20261201_0004_purpose_prices": purposePrices(),
    "20261201_0005_warm_calibration": warmCalibration(),
    "20261202_0006_instance_job": instanceJob(),
    "20261202_0007_jobs": jobs(),
    "20261202_0008_claim_index": claimIndex(),
    "20261202_0009_tick_indexes": tickIndexes(),
    "20261202_0011_narrow_live_index": narrowLiveIndex(),
  };
}

function migrator(store: Store): Migrator {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(store) };
  return new Migrator({ db: store.db, provider });
}

function outcome(store: Store, { error, results }: MigrationResultSet): string[] {
  if (error) {
    const failed = results?.find((r) => r.status === "Error");
    throw new Error(`Failed to migrate ${store.location}${failed ? ` at ${failed.migrationName}` : ""}: ${(error as Error).message ?? error}`);
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

export async function migrateToLatest(store: Store): Promise<string[]> {
  return outcome(store, await migrator(store).migrateToLatest());
}

/** Migrates up (or down) to the named migration: upgrade tests start from an older schema. */
export async function migrateTo(store: Store, name: string): Promise<string[]> {
  return outcome(store, await migrator(store).migrateTo(name));
}
