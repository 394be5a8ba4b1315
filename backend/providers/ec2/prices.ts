/**
 * Hourly prices of instances: a purpose's pinned hourlyPrice first; spot prices from
 * DescribeSpotPriceHistory (the latest price, cached for a while); on-demand prices and EBS
 * GB-month prices from the snapshot table shipped in prices/on-demand.json (with its source
 * and date; see the note there).
 */
import { DescribeSpotPriceHistoryCommand, type EC2Client } from "@aws-sdk/client-ec2";
import type { PurposeConfig } from "../../config/schema";
import { aws } from "./aws-errors";
import table from "./prices/on-demand.json";

export interface PriceTable {
  source: string;
  date: string;
  currency: string;
  onDemandHourly: Record<string, Record<string, number>>;
  ebsGbMonth: Record<string, Record<string, number>>;
}

export const priceTable = table as PriceTable;

export function onDemandHourly(region: string, instanceType: string, t: PriceTable = priceTable): number | null {
  return t.onDemandHourly[region]?.[instanceType] ?? null;
}

export function ebsGbMonth(region: string, volumeType: string, t: PriceTable = priceTable): number | null {
  return t.ebsGbMonth[region]?.[volumeType] ?? null;
}

export class SpotPrices {
  private readonly cache = new Map<string, { at: number; price: number | null }>();

  constructor(
    private readonly ec2: EC2Client,
    private readonly ttlMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The current spot price of the type (in the zone, or the lowest over all zones). */
  async hourly(instanceType: string, zone: string | null): Promise<number | null> {
    const key = `${instanceType}@${zone ?? "*"}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.price;
    const out = await aws({ action: "ec2:DescribeSpotPriceHistory", target: instanceType }, () =>
      this.ec2.send(
        new DescribeSpotPriceHistoryCommand({
          InstanceTypes: [instanceType as never],
          ProductDescriptions: ["Linux/UNIX"],
          StartTime: new Date(this.now()),
          ...(zone ? { AvailabilityZone: zone } : {}),
          MaxResults: 100,
        }),
      ),
    );
    // Asked with StartTime=now, EC2 returns the price in force in each zone; keep each zone's newest.
    const newest = new Map<string, { ts: number; price: number }>();
    for (const p of out.SpotPriceHistory ?? []) {
      const price = Number(p.SpotPrice);
      if (!Number.isFinite(price)) continue;
      const z = p.AvailabilityZone ?? "";
      const ts = p.Timestamp ? new Date(p.Timestamp).getTime() : 0;
      const prev = newest.get(z);
      if (!prev || ts > prev.ts) newest.set(z, { ts, price });
    }
    const prices = [...newest.values()].map((v) => v.price);
    const price = prices.length ? Math.min(...prices) : null;
    this.cache.set(key, { at: this.now(), price });
    return price;
  }
}

/** Price of one instance of a purpose: pinned, else spot (for spot), else the on-demand table. */
export async function instanceHourly(
  purpose: PurposeConfig,
  region: string,
  spot: SpotPrices,
  instanceType: string,
  market: "spot" | "on-demand",
  zone: string | null,
): Promise<number | null> {
  if (purpose.hourlyPrice !== undefined) return purpose.hourlyPrice;
  if (market === "spot") {
    const p = await spot.hourly(instanceType, zone).catch(() => null);
    if (p !== null) return p;
  }
  return onDemandHourly(region, instanceType);
}
