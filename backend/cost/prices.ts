/**
 * Prices over time. An instance's price per hour can change while it runs (spot prices move),
 * so the ledger asks a PriceSource for the piecewise-constant price of an instance over an
 * interval instead of reading one number. On-demand instances keep the price recorded at
 * launch; spot instances follow the recorded spot price history of their type and zone.
 */

/** What the ledger knows about an instance when it asks for its price. */
export interface PricedInstance {
  market: string | null;
  instanceType: string | null;
  availabilityZone: string | null;
  /** The price recorded at launch (instances.hourly_price). */
  hourlyPrice: number | null;
  /** Its purpose, and when its launch price was set: configured price changes apply after it. */
  purpose?: string;
  billStart?: number | null;
}

/** A stretch [from, to) of time at one price per hour. */
export interface PricePiece {
  from: number;
  to: number;
  hourlyPrice: number;
}

export interface PriceSource {
  /** Pieces covering [from, to) exactly, in time order (empty when from >= to). */
  pieces(inst: PricedInstance, from: number, to: number): PricePiece[];
}

/** The price recorded at launch, for the whole life of the instance. */
export const launchPrice: PriceSource = {
  pieces(inst, from, to) {
    return from < to ? [{ from, to, hourlyPrice: inst.hourlyPrice ?? 0 }] : [];
  },
};

/** One observed spot price: from `at` on, instances of this type in this zone cost `hourlyPrice`. */
export interface SpotPriceChange {
  instanceType: string;
  availabilityZone: string;
  at: number;
  hourlyPrice: number;
}

const keyOf = (type: string, zone: string) => `${type}\u0000${zone}`;

/**
 * Spot prices as a step function per (instance type, zone). Before the first recorded change
 * (or for a type/zone never recorded) a spot instance costs its launch price; on-demand
 * instances always do.
 */
export class SpotPriceHistory implements PriceSource {
  private readonly series = new Map<string, Array<{ at: number; hourlyPrice: number }>>();

  constructor(changes: SpotPriceChange[]) {
    for (const c of changes) {
      const k = keyOf(c.instanceType, c.availabilityZone);
      const list = this.series.get(k) ?? [];
      list.push({ at: c.at, hourlyPrice: c.hourlyPrice });
      this.series.set(k, list);
    }
    for (const list of this.series.values()) list.sort((a, b) => a.at - b.at);
  }

  pieces(inst: PricedInstance, from: number, to: number): PricePiece[] {
    if (from >= to) return [];
    const list =
      inst.market === "spot" && inst.instanceType && inst.availabilityZone
        ? this.series.get(keyOf(inst.instanceType, inst.availabilityZone))
        : undefined;
    if (!list || list.length === 0) return launchPrice.pieces(inst, from, to);
    const out: PricePiece[] = [];
    let price = inst.hourlyPrice ?? 0;
    let cursor = from;
    for (const change of list) {
      if (change.at <= from) {
        price = change.hourlyPrice;
        continue;
      }
      if (change.at >= to) break;
      out.push({ from: cursor, to: change.at, hourlyPrice: price });
      cursor = change.at;
      price = change.hourlyPrice;
    }
    out.push({ from: cursor, to, hourlyPrice: price });
    return out;
  }
}

/** One change of a purpose's configured price (null: no configured price from then on). */
export interface ConfiguredPriceChange {
  purpose: string;
  at: number;
  hourlyPrice: number | null;
}

/**
 * Configured purpose prices (`hourlyPrice` in the YAML) as a step function per purpose. A
 * non-spot instance is billed at its launch price until the first change after its launch,
 * then at the price in force; a change to "no configured price" puts it back on its launch
 * price. Spot instances and everything else go to `inner` (the spot history).
 */
export class ConfiguredPriceHistory implements PriceSource {
  private readonly series = new Map<string, ConfiguredPriceChange[]>();

  constructor(changes: ConfiguredPriceChange[], private readonly inner: PriceSource) {
    for (const c of changes) this.series.set(c.purpose, [...(this.series.get(c.purpose) ?? []), c]);
    for (const list of this.series.values()) list.sort((a, b) => a.at - b.at);
  }

  pieces(inst: PricedInstance, from: number, to: number): PricePiece[] {
    const list = inst.market !== "spot" && inst.purpose ? this.series.get(inst.purpose) : undefined;
    const launchedAt = inst.billStart ?? null;
    const after = list && launchedAt !== null ? list.filter((c) => c.at > launchedAt) : [];
    if (after.length === 0) return this.inner.pieces(inst, from, to);
    if (from >= to) return [];
    const launch = inst.hourlyPrice ?? 0;
    const out: PricePiece[] = [];
    let price = launch;
    let cursor = from;
    for (const change of after) {
      const next = change.hourlyPrice ?? launch;
      if (change.at <= from) {
        price = next;
        continue;
      }
      if (change.at >= to) break;
      out.push({ from: cursor, to: change.at, hourlyPrice: price });
      cursor = change.at;
      price = next;
    }
    out.push({ from: cursor, to, hourlyPrice: price });
    return out;
  }
}
