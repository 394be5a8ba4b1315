/**
 * Users' persistent homes: one encrypted EBS volume per user, purpose and availability zone,
 * tagged Pool/Purpose/Owner/Role=home, created on the user's first claim in that zone (with a
 * ClientToken derived from those four, so a retry never creates two), attached to whichever
 * instance the user is given and detached when they release it. Never deleted by the pool.
 */
import { createHash } from "node:crypto";
import {
  AttachVolumeCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  type EC2Client,
  type Volume,
  type VolumeType,
} from "@aws-sdk/client-ec2";
import type { Ec2PurposeConfig, PurposeConfig } from "../../config/schema";
import { aws, awsErrorCode, toPoolError } from "./aws-errors";
import { TAG, tagList, withCostTags } from "./tags";

/** The device name the home volume is attached as (the NVMe name follows the volume id). */
export const HOME_DEVICE = "/dev/sdh";

export interface HomeVolume {
  volumeId: string;
  availabilityZone: string;
  state: string;
  attachedTo: string | null;
  createdAt: number;
}

export function homeVolumeToken(poolName: string, purpose: string, userId: string, zone: string): string {
  return `home-${createHash("sha256").update(`${poolName}\0${purpose}\0${userId}\0${zone}`).digest("hex").slice(0, 40)}`;
}

export function homeVolumeTags(poolName: string, purpose: PurposeConfig, userId: string): Record<string, string> {
  return withCostTags(purpose.costTags, {
    [TAG.name]: `${poolName}/${purpose.name}/home/${userId}`,
    [TAG.pool]: poolName,
    [TAG.purpose]: purpose.name,
    [TAG.owner]: userId,
    [TAG.role]: "home",
  });
}

function toHome(v: Volume): HomeVolume | null {
  if (!v.VolumeId || !v.AvailabilityZone) return null;
  const att = (v.Attachments ?? []).find((a) => a.State === "attached" || a.State === "attaching");
  return {
    volumeId: v.VolumeId,
    availabilityZone: v.AvailabilityZone,
    state: v.State ?? "unknown",
    attachedTo: att?.InstanceId ?? null,
    createdAt: v.CreateTime ? new Date(v.CreateTime).getTime() : 0,
  };
}

/** The zone to launch a user's instance in: that of their home volume that is free, oldest first. */
export function preferredHome(homes: HomeVolume[], zones: string[]): HomeVolume | null {
  const usable = homes.filter((h) => zones.includes(h.availabilityZone) && h.state !== "deleting" && h.state !== "error");
  usable.sort((a, b) => Number(a.attachedTo !== null) - Number(b.attachedTo !== null) || a.createdAt - b.createdAt);
  return usable[0] ?? null;
}

export const isAvailable = (v: Volume): boolean => v.State === "available" || v.State === "in-use";
export const isAttachedTo = (instanceId: string) => (v: Volume): boolean => (v.Attachments ?? []).some((a) => a.InstanceId === instanceId && a.State === "attached");

export class HomeVolumes {
  constructor(
    private readonly ec2: EC2Client,
    private readonly poolName: string,
  ) {}

  async find(purpose: string, userId: string): Promise<HomeVolume[]> {
    const out = await aws({ action: "ec2:DescribeVolumes", target: `home of ${userId}` }, () =>
      this.ec2.send(
        new DescribeVolumesCommand({
          Filters: [
            { Name: `tag:${TAG.pool}`, Values: [this.poolName] },
            { Name: `tag:${TAG.purpose}`, Values: [purpose] },
            { Name: `tag:${TAG.owner}`, Values: [userId] },
            { Name: `tag:${TAG.role}`, Values: ["home"] },
          ],
        }),
      ),
    );
    return (out.Volumes ?? []).map(toHome).filter((h): h is HomeVolume => h !== null);
  }

  async describe(volumeId: string): Promise<HomeVolume | null> {
    try {
      const out = await this.ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
      const v = out.Volumes?.[0];
      return v ? toHome(v) : null;
    } catch (err) {
      if (awsErrorCode(err) === "InvalidVolume.NotFound") return null;
      throw toPoolError(err, { action: "ec2:DescribeVolumes", target: volumeId });
    }
  }

  /** The user's home in the zone, created (idempotently) when they have none there. */
  async ensureIn(purpose: PurposeConfig & { ec2: Ec2PurposeConfig }, userId: string, zone: string): Promise<HomeVolume> {
    const existing = (await this.find(purpose.name, userId)).find((h) => h.availabilityZone === zone);
    if (existing) return existing;
    const ec2 = purpose.ec2;
    const out = await aws({ action: "ec2:CreateVolume", target: `home of ${userId} in ${zone}` }, () =>
      this.ec2.send(
        new CreateVolumeCommand({
          AvailabilityZone: zone,
          Size: ec2.homeVolumeGiB,
          VolumeType: ec2.homeVolumeType as VolumeType,
          Encrypted: true,
          ...(ec2.kmsKeyId ? { KmsKeyId: ec2.kmsKeyId } : {}),
          ClientToken: homeVolumeToken(this.poolName, purpose.name, userId, zone),
          TagSpecifications: [{ ResourceType: "volume", Tags: tagList(homeVolumeTags(this.poolName, purpose, userId)) }],
        }),
      ),
    );
    return { volumeId: out.VolumeId!, availabilityZone: out.AvailabilityZone ?? zone, state: out.State ?? "creating", attachedTo: null, createdAt: Date.now() };
  }

  /**
   * Moving a home to another zone, one level-based step per call (safe to repeat, survives a
   * restart): a snapshot of the source (found again by its HomeMoveOf tag), then, once it is
   * complete, the new home in the zone from that snapshot (same ClientToken as any home there,
   * so never two), and the source retagged Role=home-moved so it is never chosen again. The source
   * volume is kept (never deleted by the pool), as is the snapshot, as a copy of the home before
   * the move. Returns the new home, or null while the snapshot is being made.
   */
  async moveStep(purpose: PurposeConfig & { ec2: Ec2PurposeConfig }, userId: string, zone: string, source: HomeVolume): Promise<HomeVolume | null> {
    const snaps = await aws({ action: "ec2:DescribeSnapshots", target: `move of ${source.volumeId}` }, () =>
      this.ec2.send(
        new DescribeSnapshotsCommand({ OwnerIds: ["self"], Filters: [{ Name: `tag:${TAG.pool}`, Values: [this.poolName] }, { Name: `tag:${TAG.homeMoveOf}`, Values: [source.volumeId] }] }),
      ),
    );
    const snap = (snaps.Snapshots ?? []).find((x) => x.State !== "error");
    if (!snap) {
      await aws({ action: "ec2:CreateSnapshot", target: source.volumeId }, () =>
        this.ec2.send(
          new CreateSnapshotCommand({
            VolumeId: source.volumeId,
            Description: `rstudio-pool: home of ${userId} moving from ${source.availabilityZone} to ${zone}`.slice(0, 255),
            TagSpecifications: [{ ResourceType: "snapshot", Tags: tagList({ ...homeVolumeTags(this.poolName, purpose, userId), [TAG.role]: "home-move", [TAG.homeMoveOf]: source.volumeId }) }],
          }),
        ),
      );
      return null;
    }
    if (snap.State !== "completed") return null;
    const ec2 = purpose.ec2;
    const out = await aws({ action: "ec2:CreateVolume", target: `home of ${userId} in ${zone} from ${snap.SnapshotId}` }, () =>
      this.ec2.send(
        new CreateVolumeCommand({
          AvailabilityZone: zone,
          SnapshotId: snap.SnapshotId,
          Size: Math.max(ec2.homeVolumeGiB, snap.VolumeSize ?? 0),
          VolumeType: ec2.homeVolumeType as VolumeType,
          Encrypted: true,
          ...(ec2.kmsKeyId ? { KmsKeyId: ec2.kmsKeyId } : {}),
          ClientToken: homeVolumeToken(this.poolName, purpose.name, userId, zone),
          TagSpecifications: [{ ResourceType: "volume", Tags: tagList({ ...homeVolumeTags(this.poolName, purpose, userId), [TAG.homeMovedFrom]: source.volumeId }) }],
        }),
      ),
    );
    const moved: HomeVolume = { volumeId: out.VolumeId!, availabilityZone: out.AvailabilityZone ?? zone, state: out.State ?? "creating", attachedTo: null, createdAt: Date.now() };
    await aws({ action: "ec2:CreateTags", target: source.volumeId }, () =>
      this.ec2.send(new CreateTagsCommand({ Resources: [source.volumeId], Tags: [{ Key: TAG.role, Value: "home-moved" }, { Key: TAG.homeMovedTo, Value: moved.volumeId }] })),
    );
    return moved;
  }

  /** Attaches the volume; already attached to this instance is success. */
  async attach(volumeId: string, instanceId: string): Promise<void> {
    try {
      await this.ec2.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId, Device: HOME_DEVICE }));
    } catch (err) {
      const code = awsErrorCode(err);
      if (code === "VolumeInUse" || code === "IncorrectState") {
        const v = await this.describe(volumeId);
        if (v?.attachedTo === instanceId) return;
      }
      throw toPoolError(err, { action: "ec2:AttachVolume", target: `${volumeId} to ${instanceId}` });
    }
  }

  /** Detaches the volume from the instance; not attached (any more) is success. */
  async detach(volumeId: string, instanceId: string): Promise<void> {
    try {
      await this.ec2.send(new DetachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId }));
    } catch (err) {
      const code = awsErrorCode(err);
      if (code === "IncorrectState" || code === "InvalidAttachment.NotFound" || code === "InvalidVolume.NotFound" || code === "InvalidInstanceID.NotFound") return;
      throw toPoolError(err, { action: "ec2:DetachVolume", target: `${volumeId} from ${instanceId}` });
    }
  }

  /** Waits (bounded) until the volume satisfies `done` (available after creation, attached after attach). */
  async waitFor(volumeId: string, done: (v: Volume) => boolean, sleep: (ms: number) => Promise<void>, pollMs: number, tries = 30): Promise<boolean> {
    for (let i = 0; i < tries; i++) {
      const out = await aws({ action: "ec2:DescribeVolumes", target: volumeId }, () => this.ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] })));
      const v = out.Volumes?.[0];
      if (v && done(v)) return true;
      await sleep(pollMs);
    }
    return false;
  }
}

