/**
 * Reading instances back from EC2: the pool's listing (DescribeInstances filtered on the Pool
 * tag, paginated, with a bound on the pages per pass) and the mapping of an EC2 instance to
 * what the pool needs to know (state, spot interruption, zone, tags).
 */
import { DescribeInstancesCommand, type EC2Client, type Filter, type Instance } from "@aws-sdk/client-ec2";
import type { ProviderInstance, ProviderState } from "../types";
import { aws } from "./aws-errors";
import { TAG, tagMap } from "./tags";

/** EC2's StateReason code for an instance that spot took back. */
export const SPOT_INTERRUPTION = "Server.SpotInstanceTermination";

export function providerState(name: string | undefined): ProviderState {
  switch (name) {
    case "pending":
      return "pending";
    case "running":
      return "running";
    case "shutting-down":
    case "stopping":
      return "stopping";
    case "stopped":
      return "stopped";
    default:
      return "terminated";
  }
}

/** Maps an EC2 instance; `ready` is decided by the caller (it needs SSM). */
export function toProviderInstance(i: Instance, ready: boolean): ProviderInstance {
  const tags = tagMap(i.Tags);
  const reasonCode = i.StateReason?.Code ?? null;
  return {
    providerId: i.InstanceId!,
    instanceId: tags[TAG.poolInstanceId] ?? null,
    poolName: tags[TAG.pool] ?? null,
    purpose: tags[TAG.purpose] ?? null,
    state: providerState(i.State?.Name),
    ready,
    stateReason: reasonCode ?? (i.StateTransitionReason || null),
    interrupted: reasonCode === SPOT_INTERRUPTION,
    privateDnsName: i.PrivateDnsName || null,
    instanceType: i.InstanceType ?? null,
    market: i.InstanceLifecycle === "spot" ? "spot" : "on-demand",
    availabilityZone: i.Placement?.AvailabilityZone ?? null,
    launchedAt: i.LaunchTime ? new Date(i.LaunchTime).getTime() : null,
    tainted: taintOf(i),
  };
}

/**
 * Why the instance must never be handed to anyone but its owner, or null: it was owned (Owner
 * tag), it was launched or prepared for a user's home (HomeVolume tag, which also names the home
 * in its user data), or a volume other than its root is attached (a home).
 */
export function taintOf(i: Instance): string | null {
  const tags = tagMap(i.Tags);
  if (tags[TAG.owner]) return `owned by ${tags[TAG.owner]}`;
  if (tags[TAG.homeVolume]) return `carries home volume ${tags[TAG.homeVolume]}`;
  const extra = (i.BlockDeviceMappings ?? []).find((b) => b.DeviceName && i.RootDeviceName && b.DeviceName !== i.RootDeviceName && b.Ebs?.VolumeId);
  if (extra) return `has volume ${extra.Ebs!.VolumeId} attached besides its root`;
  if (!i.RootDeviceName && (i.BlockDeviceMappings ?? []).length > 1) return "has more than one volume attached";
  return null;
}

/** The home volume the instance should carry (tag) and whether it is attached now. */
export function homeVolumeOf(i: Instance): { volumeId: string | null; attached: boolean } {
  const volumeId = tagMap(i.Tags)[TAG.homeVolume] || null;
  if (!volumeId) return { volumeId: null, attached: false };
  const attached = (i.BlockDeviceMappings ?? []).some((b) => b.Ebs?.VolumeId === volumeId && b.Ebs?.Status === "attached");
  return { volumeId, attached };
}

export interface ListOptions {
  pageSize: number;
  maxPages: number;
}

/** Every instance with the pool's tag, in at most maxPages calls of pageSize (5..1000) each. */
export async function listPoolInstances(ec2: EC2Client, poolName: string, options: ListOptions): Promise<{ instances: Instance[]; pages: number; complete: boolean }> {
  const filters: Filter[] = [{ Name: `tag:${TAG.pool}`, Values: [poolName] }];
  const instances: Instance[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await aws({ action: "ec2:DescribeInstances", target: `pool ${poolName}` }, () =>
      ec2.send(new DescribeInstancesCommand({ Filters: filters, MaxResults: options.pageSize, NextToken: token })),
    );
    pages++;
    for (const r of out.Reservations ?? []) instances.push(...(r.Instances ?? []));
    token = out.NextToken;
  } while (token && pages < options.maxPages);
  return { instances, pages, complete: !token };
}

/** The given instances (by filter, so an id EC2 does not know yet is simply absent). */
export async function describeByIds(ec2: EC2Client, ids: string[]): Promise<Instance[]> {
  const out: Instance[] = [];
  for (let i = 0; i < ids.length; i += 200) {
    const batch = ids.slice(i, i + 200);
    let token: string | undefined;
    do {
      const page = await aws({ action: "ec2:DescribeInstances", target: `${batch.length} instances` }, () =>
        ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-id", Values: batch }], MaxResults: 1000, NextToken: token })),
      );
      for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
      token = page.NextToken;
    } while (token);
  }
  return out;
}
