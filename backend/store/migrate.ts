/**
 * Versioned migrations, applied in name order on start-up (and by `rstudio-pool migrate`).
 * Migrations are imported statically so they survive bundling; add a new timestamped file and
 * list it here, never edit one that has shipped.
 */
import { Migrator, type Migration, type MigrationProvider } from "kysely";
import type { Store } from "./db";
import { init } from "./migrations/20261123_0001_init";
import { spotPrices } from "./migrations/20261124_0002_spot_prices";

function migrationsFor(store: Store): Record<string, Migration> {
  return {
    "20261123_0001_init": init(store.dialect),
    "20261124_0002_spot_prices": spotPrices(),
  };
}

export async function migrateToLatest(store: Store): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(store) };
  const migrator = new Migrator({ db: store.db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error");
    throw new Error(`Failed to migrate ${store.location}${failed ? ` at ${failed.migrationName}` : ""}: ${(error as Error).message ?? error}`);
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
