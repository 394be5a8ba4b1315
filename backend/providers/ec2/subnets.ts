/**
 * Which availability zone each configured subnet is in (asked once, then cached: a subnet never
 * moves), and the subnet a launch uses: one in the home volume's zone when the user has one
 * there, else one picked by the pool id so instances spread over the subnets.
 */
import { createHash } from "node:crypto";
import { DescribeSubnetsCommand, DescribeVpcsCommand, type EC2Client } from "@aws-sdk/client-ec2";
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

/** Said once at start-up when a purpose has no subnets (the old service's deployments). */
export const DEFAULT_SUBNETS_WARNING =
  "no ec2.subnetIds (SUBNET_IDS) configured: launching into the default VPC's default subnets, which are public (instances get no public IP, but the subnets route to the internet). Set ec2.subnetIds (or SUBNET_IDS) to private subnets; see docs/aws.md.";

export class SubnetDirectory {
  private readonly zones = new Map<string, string>();
  private defaults: SubnetInfo[] | null = null;

  constructor(private readonly ec2: EC2Client) {}

  /** The purpose's subnets, or (none configured) the default subnets of the default VPC, one per zone. */
  async forPurpose(subnetIds: string[]): Promise<SubnetInfo[]> {
    if (subnetIds.length) return this.describe(subnetIds);
    if (this.defaults) return this.defaults;
    const vpcs = await aws({ action: "ec2:DescribeVpcs", target: "default VPC" }, () => this.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "is-default", Values: ["true"] }] })));
    const vpcId = vpcs.Vpcs?.[0]?.VpcId;
    if (!vpcId) throw new PoolError("INVALID_CONFIG", "No ec2.subnetIds configured and this region has no default VPC. Set ec2.subnetIds (or SUBNET_IDS) to private subnets.");
    const out = await aws({ action: "ec2:DescribeSubnets", target: `default subnets of ${vpcId}` }, () =>
      this.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }, { Name: "default-for-az", Values: ["true"] }] })),
    );
    const found = (out.Subnets ?? [])
      .filter((s) => s.SubnetId && s.AvailabilityZone)
      .map((s) => ({ subnetId: s.SubnetId!, availabilityZone: s.AvailabilityZone! }))
      .sort((a, b) => a.availabilityZone.localeCompare(b.availabilityZone));
    if (found.length === 0) throw new PoolError("INVALID_CONFIG", `The default VPC ${vpcId} has no default subnets. Set ec2.subnetIds (or SUBNET_IDS).`);
    for (const s of found) this.zones.set(s.subnetId, s.availabilityZone);
    this.defaults = found;
    return found;
  }

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
