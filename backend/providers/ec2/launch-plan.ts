/**
 * The ordered cells of one launch (market × instance type × subnet), each with its own EC2
 * ClientToken: a retry of the same cell (after a throttle, a timeout or a restart of the
 * backend) reuses the token and EC2 answers with the instance it already launched; a different
 * cell sends different parameters and so needs a new token, because EC2 refuses a token reused
 * with other parameters (IdempotentParameterMismatch).
 */
import { createHash } from "node:crypto";
import type { Ec2PurposeConfig } from "../../config/schema";
import { spreadIndex } from "./subnets";

export interface LaunchStep {
  index: number;
  instanceType: string;
  market: "spot" | "on-demand";
  clientToken: string;
}

/** EC2 allows ClientTokens of at most 64 ASCII characters. */
export const CLIENT_TOKEN_MAX = 64;

export function clientTokenFor(poolInstanceId: string, step: number | string): string {
  const token = `${poolInstanceId}-${step}`;
  if (token.length > CLIENT_TOKEN_MAX || !/^[\x21-\x7e]+$/.test(token)) {
    throw new Error(`cannot derive an EC2 client token from "${poolInstanceId}"`);
  }
  return token;
}


/** One cell of the launch matrix: a type on a market in one subnet (so one zone). */
export interface LaunchCell extends LaunchStep {
  subnetId: string | null;
  zone: string | null;
}

/**
 * The token of a cell, derived from what the cell is (not from its place in the walk), so a
 * retry of the same type, market and subnet reuses it even when the zone order changed.
 */
export function cellToken(poolInstanceId: string, instanceType: string, market: string, subnetId: string | null): string {
  const h = createHash("sha256").update(`${instanceType}\0${market}\0${subnetId ?? ""}`).digest("hex").slice(0, 10);
  return clientTokenFor(poolInstanceId, h);
}

/**
 * Every allowed (market × instance type × subnet), in the order to try: spot before on-demand
 * (when the purpose allows both), types in the purpose's order, and within a type the subnets
 * of the preferred zones first (the user's home), then the others. Capacity errors are per type
 * and zone, so the walk moves to the next zone before giving up on a type.
 */
export function launchMatrix(
  poolInstanceId: string,
  ec2: Pick<Ec2PurposeConfig, "instanceTypes" | "market" | "spotFallbackToOnDemand">,
  subnets: Array<{ subnetId: string; availabilityZone: string }>,
  preferredZones: string[] = [],
): LaunchCell[] {
  const rank = (z: string) => (preferredZones.includes(z) ? preferredZones.indexOf(z) : preferredZones.length);
  // Launches without a preference start at a subnet picked by their id, so instances spread over the zones.
  const start = subnets.length ? spreadIndex(poolInstanceId, subnets.length) : 0;
  const rotated = [...subnets.slice(start), ...subnets.slice(0, start)];
  const ordered = rotated.sort((a, b) => rank(a.availabilityZone) - rank(b.availabilityZone));
  const where: Array<{ subnetId: string | null; zone: string | null }> = ordered.length ? ordered.map((s) => ({ subnetId: s.subnetId, zone: s.availabilityZone })) : [{ subnetId: null, zone: null }];
  const markets: Array<"spot" | "on-demand"> = ec2.market === "spot" ? (ec2.spotFallbackToOnDemand ? ["spot", "on-demand"] : ["spot"]) : ["on-demand"];
  const cells: LaunchCell[] = [];
  for (const market of markets) {
    for (const instanceType of ec2.instanceTypes) {
      for (const w of where) {
        cells.push({ index: cells.length, instanceType, market, subnetId: w.subnetId, zone: w.zone, clientToken: cellToken(poolInstanceId, instanceType, market, w.subnetId) });
      }
    }
  }
  return cells;
}
