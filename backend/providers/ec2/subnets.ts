/**
 * Which availability zone each configured subnet is in (asked once, then cached: a subnet never
 * moves), and the subnet a launch uses: one in the home volume's zone when the user has one
 * there, else one picked by the pool id so instances spread over the subnets.
 */
import { createHash } from "node:crypto";
import { DescribeSubnetsCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { PoolError } from "../../errors";
import { aws } from "./aws-errors";

export interface SubnetInfo {
  subnetId: string;
  availabilityZone: string;
}

export function spreadIndex(key: string, n: number): number {
  return createHash("sha256").update(key).digest().readUInt32BE(0) % n;
}

export function pickSubnet(subnets: SubnetInfo[], key: string, zone: string | null): SubnetInfo | null {
  const candidates = zone ? subnets.filter((s) => s.availabilityZone === zone) : subnets;
  if (candidates.length === 0) return null;
  return candidates[spreadIndex(key, candidates.length)]!;
}

export class SubnetDirectory {
  private readonly zones = new Map<string, string>();

  constructor(private readonly ec2: EC2Client) {}

  async describe(subnetIds: string[]): Promise<SubnetInfo[]> {
    const missing = subnetIds.filter((id) => !this.zones.has(id));
    if (missing.length) {
      const out = await aws({ action: "ec2:DescribeSubnets", target: missing.join(",") }, () => this.ec2.send(new DescribeSubnetsCommand({ SubnetIds: missing })));
      for (const s of out.Subnets ?? []) if (s.SubnetId && s.AvailabilityZone) this.zones.set(s.SubnetId, s.AvailabilityZone);
    }
    return subnetIds.map((id) => {
      const az = this.zones.get(id);
      if (!az) throw new PoolError("INVALID_CONFIG", `Subnet ${id} in ec2.subnetIds was not found in this region. Fix the purpose configuration.`);
      return { subnetId: id, availabilityZone: az };
    });
  }
}
