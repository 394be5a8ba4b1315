/**
 * Spot prices the provider saw (launches, the purposes list) go into spot_prices, so the ledger
 * bills each hour at the price in force, not at the price recorded at launch.
 */
import { recordSpotPrices } from "../../store/ledger-history";
import type { PoolContext } from "../context";

export async function recordObservedPrices(ctx: PoolContext): Promise<number> {
  const seen = ctx.provider.observedSpotPrices?.() ?? [];
  if (seen.length === 0) return 0;
  await recordSpotPrices(ctx.db, seen);
  return seen.length;
}
