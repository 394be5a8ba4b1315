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

/** One spot price the provider saw: in force from `at` in that zone (what the ledger bills). */
export interface SpotPriceObservation {
  instanceType: string;
  availabilityZone: string;
  at: number;
  hourlyPrice: number;
}

export class SpotPrices {
  private readonly cache = new Map<string, { at: number; byZone: Map<string, { ts: number; price: number }> }>();
  private observed: SpotPriceObservation[] = [];

  constructor(
    private readonly ec2: EC2Client,
    private readonly ttlMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The newest price per zone of the type (one call for all zones, cached). */
  async byZone(instanceType: string): Promise<Map<string, { ts: number; price: number }>> {
    const hit = this.cache.get(instanceType);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.byZone;
    const out = await aws({ action: "ec2:DescribeSpotPriceHistory", target: instanceType }, () =>
      this.ec2.send(
        new DescribeSpotPriceHistoryCommand({
          InstanceTypes: [instanceType as never],
          ProductDescriptions: ["Linux/UNIX"],
          StartTime: new Date(this.now()),
          MaxResults: 100,
        }),
      ),
    );
    // Asked with StartTime=now, EC2 returns the price in force in each zone; keep each zone's newest.
    const newest = new Map<string, { ts: number; price: number }>();
    for (const p of out.SpotPriceHistory ?? []) {
      const price = Number(p.SpotPrice);
      if (!Number.isFinite(price) || !p.AvailabilityZone) continue;
      const ts = p.Timestamp ? new Date(p.Timestamp).getTime() : this.now();
      const prev = newest.get(p.AvailabilityZone);
      if (!prev || ts > prev.ts) newest.set(p.AvailabilityZone, { ts, price });
    }
    for (const [zone, v] of newest) this.observed.push({ instanceType, availabilityZone: zone, at: v.ts, hourlyPrice: v.price });
    this.cache.set(instanceType, { at: this.now(), byZone: newest });
    return newest;
  }

  /** The current spot price of the type in the zone (or, with no zone, the lowest anywhere). */
  async hourly(instanceType: string, zone: string | null): Promise<number | null> {
    return this.hourlyIn(instanceType, zone ? [zone] : null);
  }

  /** The lowest current spot price of the type among the zones (null: any zone). */
  async hourlyIn(instanceType: string, zones: string[] | null): Promise<number | null> {
    const prices = [...(await this.byZone(instanceType)).entries()].filter(([z]) => !zones || zones.includes(z)).map(([, v]) => v.price);
    return prices.length ? Math.min(...prices) : null;
  }

  /** The prices seen since the last call (the pool records them in spot_prices). */
  drainObserved(): SpotPriceObservation[] {
    const out = this.observed;
    this.observed = [];
    return out;
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
