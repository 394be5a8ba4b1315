/**
 * EC2 actions of the fake server, in EC2's query protocol: request parameters as the SDK sends
 * them (TagSpecification.N..., Filter.N.Name/Value.M, NetworkInterface.N...), answers as
 * `<ActionResponse>` XML with the element names of the EC2 API reference, errors as
 * `<Response><Errors><Error><Code>`.
 */
import { FakeWorld, type FakeInstance, type FakeVolume } from "./fake-world";
import { asList, AwsFault, el, items, tagSetXml, tagsFrom, type QueryValue } from "./wire";

export { AwsFault as Ec2Fault };

type Params = Record<string, QueryValue>;
type Filter = { name: string; values: string[] };

const STATE_CODE: Record<string, number> = { pending: 0, running: 16, "shutting-down": 32, terminated: 48, stopping: 64, stopped: 80 };

function filtersOf(p: Params): Filter[] {
  return asList(p.Filter).map((f) => {
    const o = f as Record<string, QueryValue>;
    return { name: String(o.Name), values: asList(o.Value).map(String) };
  });
}

function glob(pattern: string, s: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return re.test(s);
}

function matchTags(f: Filter, tags: Record<string, string>): boolean | null {
  if (!f.name.startsWith("tag:")) return null;
  const v = tags[f.name.slice(4)];
  return v !== undefined && f.values.some((x) => glob(x, v));
}

function page<T>(list: T[], p: Params, defaultSize: number): { slice: T[]; next: string | null } {
  const max = p.MaxResults ? Number(p.MaxResults) : defaultSize;
  const start = p.NextToken ? Number(Buffer.from(String(p.NextToken), "base64").toString()) : 0;
  const slice = list.slice(start, start + max);
  const next = start + max < list.length ? Buffer.from(String(start + max)).toString("base64") : null;
  return { slice, next };
}

export function instanceXml(i: FakeInstance, world: FakeWorld): string {
  const bdm = world.volumesOf(i.id).map((v) =>
    el("deviceName", v.attachment!.device) +
    el("ebs", el("volumeId", v.id) + el("status", v.attachment!.state) + el("attachTime", v.createTime.toISOString()) + el("deleteOnTermination", v.deleteOnTermination), true),
  );
  const md = (i.request.MetadataOptions ?? {}) as Record<string, string>;
  return (
    el("instanceId", i.id) +
    el("imageId", i.imageId) +
    el("instanceState", el("code", STATE_CODE[i.state]) + el("name", i.state), true) +
    el("privateDnsName", i.privateDns) +
    el("dnsName", "") +
    el("reason", i.stateReason ? `${i.stateReason.message}` : "") +
    el("amiLaunchIndex", 0) +
    el("instanceType", i.type) +
    el("launchTime", i.launchTime.toISOString()) +
    el("placement", el("availabilityZone", i.zone) + el("tenancy", "default"), true) +
    el("subnetId", i.subnetId) +
    el("rootDeviceName", world.images.find((img) => img.id === i.imageId)?.rootDevice ?? "/dev/xvda") +
    el("clientToken", i.clientToken) +
    (i.stateReason ? el("stateReason", el("code", i.stateReason.code) + el("message", i.stateReason.message), true) : "") +
    (i.lifecycle ? el("instanceLifecycle", i.lifecycle) : "") +
    items("blockDeviceMapping", bdm) +
    tagSetXml(i.tags) +
    el("metadataOptions", el("state", "applied") + el("httpTokens", md.HttpTokens ?? "optional") + el("httpPutResponseHopLimit", md.HttpPutResponseHopLimit ?? 1) + el("httpEndpoint", md.HttpEndpoint ?? "enabled"), true)
  );
}

function volumeXml(v: FakeVolume): string {
  const att = v.attachment
    ? [el("volumeId", v.id) + el("instanceId", v.attachment.instanceId) + el("device", v.attachment.device) + el("status", v.attachment.state) + el("deleteOnTermination", v.deleteOnTermination)]
    : [];
  return (
    el("volumeId", v.id) +
    el("size", v.size) +
    el("snapshotId", "") +
    el("availabilityZone", v.zone) +
    el("status", v.state) +
    el("createTime", v.createTime.toISOString()) +
    items("attachmentSet", att) +
    el("volumeType", v.type) +
    el("encrypted", v.encrypted) +
    (v.kmsKeyId ? el("kmsKeyId", v.kmsKeyId) : "") +
    tagSetXml(v.tags)
  );
}

function tagSpecs(p: Params): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const s of asList(p.TagSpecification)) {
    const o = s as Record<string, QueryValue>;
    out[String(o.ResourceType)] = tagsFrom(o.Tag);
  }
  return out;
}

function runInstances(world: FakeWorld, p: Params): string {
  const token = String(p.ClientToken ?? "");
  if (token) {
    const prior = [...world.instances.values()].find((i) => i.clientToken === token);
    if (prior) {
      const same = JSON.stringify({ ...prior.request, ClientToken: undefined }) === JSON.stringify({ ...p, ClientToken: undefined });
      if (!same) throw new AwsFault("IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).");
      return el("reservationId", `r-${prior.id.slice(2)}`) + el("ownerId", "123456789012") + items("instancesSet", [instanceXml(prior, world)]);
    }
  }
  const type = String(p.InstanceType ?? "m1.small");
  const market = (p.InstanceMarketOptions as Record<string, QueryValue> | undefined)?.MarketType === "spot" ? "spot" : "on-demand";
  const image = world.images.find((i) => i.id === p.ImageId);
  if (!image) throw new AwsFault("InvalidAMIID.NotFound", `The image id '[${String(p.ImageId)}]' does not exist`);
  const nic = (asList(p.NetworkInterface)[0] ?? {}) as Record<string, QueryValue>;
  const subnetId = String(nic.SubnetId ?? p.SubnetId ?? Object.keys(world.subnets)[0]);
  const zone = world.subnets[subnetId];
  if (!zone) throw new AwsFault("InvalidSubnetID.NotFound", `The subnet ID '${subnetId}' does not exist`);
  if ([type, `${type}/${market}`, `${type}@${zone}`, `${type}/${market}@${zone}`, `*@${zone}`].some((k) => world.noCapacity.has(k))) {
    throw new AwsFault("InsufficientInstanceCapacity", `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${zone}).`);
  }
  const arch = world.typeArchitectures[type] ?? "x86_64";
  if (arch !== image.architecture) {
    throw new AwsFault("InvalidParameterValue", `The architecture '${arch}' of the specified instance type does not match the architecture '${image.architecture}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.`);
  }
  const specs = tagSpecs(p);
  const id = world.newInstanceId();
  const inst: FakeInstance = {
    id,
    imageId: image.id,
    type,
    state: "pending",
    stateReason: null,
    lifecycle: market === "spot" ? "spot" : null,
    zone,
    subnetId,
    privateDns: `ip-10-0-${world.instances.size % 250}-${(world.instances.size * 7) % 250}.ec2.internal`,
    launchTime: new Date(world.now()),
    tags: specs.instance ?? {},
    clientToken: token,
    request: p,
    ssmOnline: false,
  };
  world.instances.set(id, inst);
  for (const m of asList(p.BlockDeviceMapping)) {
    const o = m as Record<string, QueryValue>;
    const ebs = (o.Ebs ?? {}) as Record<string, string>;
    const vid = world.newVolumeId();
    world.volumes.set(vid, {
      id: vid,
      zone,
      size: Number(ebs.VolumeSize ?? 8),
      type: ebs.VolumeType ?? "gp2",
      encrypted: ebs.Encrypted === "true",
      kmsKeyId: ebs.KmsKeyId ?? null,
      tags: specs.volume ?? {},
      state: "in-use",
      attachment: { instanceId: id, device: String(o.DeviceName), state: "attached" },
      deleteOnTermination: ebs.DeleteOnTermination !== "false",
      clientToken: null,
      createTime: new Date(),
    });
  }
  return el("reservationId", `r-${id.slice(2)}`) + el("ownerId", "123456789012") + items("groupSet", []) + items("instancesSet", [instanceXml(inst, world)]);
}

function instanceMatches(i: FakeInstance, filters: Filter[]): boolean {
  return filters.every((f) => {
    const t = matchTags(f, i.tags);
    if (t !== null) return t;
    if (f.name === "instance-id") return f.values.includes(i.id);
    if (f.name === "instance-state-name") return f.values.includes(i.state);
    if (f.name === "availability-zone") return f.values.includes(i.zone);
    throw new AwsFault("InvalidParameterValue", `The filter '${f.name}' is invalid`);
  });
}

function describeInstances(world: FakeWorld, p: Params): string {
  world.advance();
  const ids = asList(p.InstanceId).map(String);
  if (ids.length && p.MaxResults) throw new AwsFault("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults");
  for (const id of ids) if (!world.instances.has(id)) throw new AwsFault("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
  const filters = filtersOf(p);
  const list = [...world.instances.values()].filter((i) => (ids.length === 0 || ids.includes(i.id)) && instanceMatches(i, filters));
  if (p.MaxResults && (Number(p.MaxResults) < 5 || Number(p.MaxResults) > 1000)) throw new AwsFault("InvalidParameterValue", "MaxResults must be between 5 and 1000");
  const { slice, next } = page(list, p, 1000);
  // One reservation per instance, as RunInstances with MaxCount=1 makes them.
  const reservations = slice.map((i) => el("reservationId", `r-${i.id.slice(2)}`) + el("ownerId", "123456789012") + items("groupSet", []) + items("instancesSet", [instanceXml(i, world)]));
  return items("reservationSet", reservations) + (next ? el("nextToken", next) : "");
}

function terminateInstances(world: FakeWorld, p: Params): string {
  const ids = asList(p.InstanceId).map(String);
  for (const id of ids) if (!world.instances.has(id)) throw new AwsFault("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
  const changes = ids.map((id) => {
    const inst = world.instances.get(id)!;
    const prev = inst.state;
    world.terminate(id, { code: "Client.UserInitiatedShutdown", message: "Client.UserInitiatedShutdown: User initiated shutdown" });
    return el("instanceId", id) + el("currentState", el("code", STATE_CODE[inst.state]) + el("name", inst.state), true) + el("previousState", el("code", STATE_CODE[prev]) + el("name", prev), true);
  });
  return items("instancesSet", changes);
}

function createTags(world: FakeWorld, p: Params): string {
  const tags = tagsFrom(p.Tag);
  for (const id of asList(p.ResourceId).map(String)) {
    const target = world.instances.get(id) ?? world.volumes.get(id);
    if (!target) throw new AwsFault(id.startsWith("vol-") ? "InvalidVolume.NotFound" : "InvalidInstanceID.NotFound", `The ID '${id}' does not exist`);
    Object.assign(target.tags, tags);
  }
  return el("return", true);
}

function describeImages(world: FakeWorld, p: Params): string {
  const ids = asList(p.ImageId).map(String);
  const owners = asList(p.Owner).map(String);
  const filters = filtersOf(p);
  const list = world.images.filter(
    (img) =>
      (ids.length === 0 || ids.includes(img.id)) &&
      (owners.length === 0 || owners.includes(img.owner)) &&
      filters.every((f) => {
        const t = matchTags(f, img.tags);
        if (t !== null) return t;
        if (f.name === "state") return f.values.includes("available");
        if (f.name === "name") return f.values.some((v) => glob(v, img.name));
        return true;
      }),
  );
  if (ids.length && list.length < ids.length) throw new AwsFault("InvalidAMIID.NotFound", `The image id '[${ids.join(",")}]' does not exist`);
  return items(
    "imagesSet",
    list.map((img) => el("imageId", img.id) + el("imageState", "available") + el("name", img.name) + el("creationDate", img.created) + el("rootDeviceName", img.rootDevice) + el("rootDeviceType", "ebs") + el("imageOwnerId", "123456789012") + tagSetXml(img.tags)),
  );
}

function describeSubnets(world: FakeWorld, p: Params): string {
  const ids = asList(p.SubnetId).map(String);
  for (const id of ids) if (!world.subnets[id]) throw new AwsFault("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`);
  const filters = filtersOf(p);
  const chosen = (ids.length ? ids : Object.keys(world.subnets)).filter((id) =>
    filters.every((f) => {
      if (f.name === "vpc-id") return f.values.includes("vpc-0123");
      if (f.name === "default-for-az") return f.values.includes(String(world.defaultSubnets.includes(id)));
      throw new AwsFault("InvalidParameterValue", `The filter '${f.name}' is invalid`);
    }),
  );
  const list = chosen.map((id) => el("subnetId", id) + el("availabilityZone", world.subnets[id]!) + el("state", "available") + el("vpcId", "vpc-0123") + el("defaultForAz", world.defaultSubnets.includes(id)));
  return items("subnetSet", list);
}

function describeVpcs(world: FakeWorld, p: Params): string {
  const filters = filtersOf(p);
  const isDefault = filters.find((f) => f.name === "is-default");
  if (isDefault && isDefault.values.includes("true") && !world.hasDefaultVpc) return items("vpcSet", []);
  return items("vpcSet", [el("vpcId", "vpc-0123") + el("state", "available") + el("isDefault", world.hasDefaultVpc) + el("cidrBlock", "172.31.0.0/16")]);
}

function createSnapshot(world: FakeWorld, p: Params): string {
  const v = world.volumes.get(String(p.VolumeId));
  if (!v || v.state === "deleted") throw new AwsFault("InvalidVolume.NotFound", `The volume '${String(p.VolumeId)}' does not exist.`);
  const id = `snap-${world.newVolumeId().slice(4)}`;
  world.snapshots.set(id, { id, volumeId: v.id, size: v.size, state: "pending", tags: tagSpecs(p).snapshot ?? {}, encrypted: v.encrypted, data: v.data ?? null });
  return el("snapshotId", id) + el("volumeId", v.id) + el("status", "pending") + el("volumeSize", v.size) + el("startTime", new Date().toISOString()) + el("encrypted", v.encrypted);
}

function describeSnapshots(world: FakeWorld, p: Params): string {
  for (const s of world.snapshots.values()) if (s.state === "pending") s.state = "completed";
  const filters = filtersOf(p);
  const list = [...world.snapshots.values()].filter((s) => filters.every((f) => matchTags(f, s.tags) ?? true));
  return items(
    "snapshotSet",
    list.map((s) => el("snapshotId", s.id) + el("volumeId", s.volumeId) + el("status", s.state) + el("volumeSize", s.size) + el("encrypted", s.encrypted) + el("ownerId", "123456789012") + tagSetXml(s.tags)),
  );
}

function describeVolumes(world: FakeWorld, p: Params): string {
  world.advance();
  const ids = asList(p.VolumeId).map(String);
  for (const id of ids) if (!world.volumes.has(id) || world.volumes.get(id)!.state === "deleted") throw new AwsFault("InvalidVolume.NotFound", `The volume '${id}' does not exist.`);
  const filters = filtersOf(p);
  const list = [...world.volumes.values()].filter(
    (v) =>
      v.state !== "deleted" &&
      (ids.length === 0 || ids.includes(v.id)) &&
      filters.every((f) => {
        const t = matchTags(f, v.tags);
        if (t !== null) return t;
        if (f.name === "availability-zone") return f.values.includes(v.zone);
        if (f.name === "status") return f.values.includes(v.state);
        throw new AwsFault("InvalidParameterValue", `The filter '${f.name}' is invalid`);
      }),
  );
  const { slice, next } = page(list, p, 1000);
  return items("volumeSet", slice.map(volumeXml)) + (next ? el("nextToken", next) : "");
}

function createVolume(world: FakeWorld, p: Params): string {
  const token = p.ClientToken ? String(p.ClientToken) : null;
  const prior = token ? [...world.volumes.values()].find((v) => v.clientToken === token) : undefined;
  const zone = String(p.AvailabilityZone);
  if (!Object.values(world.subnets).includes(zone)) throw new AwsFault("InvalidParameterValue", `Invalid availability zone: [${zone}]`);
  const snap = p.SnapshotId ? world.snapshots.get(String(p.SnapshotId)) : undefined;
  if (p.SnapshotId && (!snap || snap.state !== "completed")) throw new AwsFault("InvalidSnapshot.NotFound", `The snapshot '${String(p.SnapshotId)}' does not exist or is not completed.`);
  const v: FakeVolume = prior ?? {
    id: world.newVolumeId(),
    zone,
    size: Number(p.Size),
    ...(snap ? { fromSnapshot: snap.id, data: snap.data } : {}),
    type: String(p.VolumeType ?? "gp2"),
    encrypted: p.Encrypted === "true",
    kmsKeyId: p.KmsKeyId ? String(p.KmsKeyId) : null,
    tags: tagSpecs(p).volume ?? {},
    state: "creating",
    attachment: null,
    deleteOnTermination: false,
    clientToken: token,
    createTime: new Date(),
  };
  world.volumes.set(v.id, v);
  return el("volumeId", v.id) + el("size", v.size) + el("availabilityZone", v.zone) + el("status", v.state) + el("createTime", v.createTime.toISOString()) + el("volumeType", v.type) + el("encrypted", v.encrypted) + tagSetXml(v.tags);
}

function attachVolume(world: FakeWorld, p: Params): string {
  const v = world.volumes.get(String(p.VolumeId));
  const inst = world.instances.get(String(p.InstanceId));
  if (!v || v.state === "deleted") throw new AwsFault("InvalidVolume.NotFound", `The volume '${String(p.VolumeId)}' does not exist.`);
  if (!inst || inst.state === "terminated") throw new AwsFault("InvalidInstanceID.NotFound", `The instance ID '${String(p.InstanceId)}' does not exist`);
  if (v.zone !== inst.zone) throw new AwsFault("InvalidVolume.ZoneMismatch", `The volume '${v.id}' is not in the same availability zone as instance '${inst.id}'`);
  if (v.state === "creating") throw new AwsFault("IncorrectState", `vol '${v.id}' is not 'available'.`);
  if (v.attachment) throw new AwsFault("VolumeInUse", `vol-${v.id} is already attached to an instance`);
  if (inst.state !== "running" && inst.state !== "stopped") throw new AwsFault("IncorrectInstanceState", `Instance '${inst.id}' is not 'running'.`);
  v.attachment = { instanceId: inst.id, device: String(p.Device), state: "attaching" };
  v.state = "in-use";
  return el("volumeId", v.id) + el("instanceId", inst.id) + el("device", String(p.Device)) + el("status", "attaching") + el("attachTime", new Date().toISOString());
}

function detachVolume(world: FakeWorld, p: Params): string {
  const v = world.volumes.get(String(p.VolumeId));
  if (!v || v.state === "deleted") throw new AwsFault("InvalidVolume.NotFound", `The volume '${String(p.VolumeId)}' does not exist.`);
  if (!v.attachment || (p.InstanceId && v.attachment.instanceId !== String(p.InstanceId))) throw new AwsFault("IncorrectState", `Volume '${v.id}' is in the 'available' state.`);
  v.attachment.state = "detaching";
  return el("volumeId", v.id) + el("instanceId", v.attachment.instanceId) + el("device", v.attachment.device) + el("status", "detaching");
}

function describeSpotPriceHistory(world: FakeWorld, p: Params): string {
  const types = asList(p.InstanceType).map(String);
  const zones = p.AvailabilityZone ? [String(p.AvailabilityZone)] : [...new Set(Object.values(world.subnets))];
  const rows: string[] = [];
  for (const t of types) {
    const price = world.spotPrices[t];
    if (price === undefined) continue;
    zones.forEach((z, i) => {
      rows.push(el("instanceType", t) + el("productDescription", "Linux/UNIX") + el("spotPrice", (price + i * 0.001).toFixed(6)) + el("timestamp", new Date().toISOString()) + el("availabilityZone", z));
    });
  }
  return items("spotPriceHistorySet", rows) + el("nextToken", "");
}

export const EC2_ACTIONS: Record<string, (world: FakeWorld, p: Params) => string> = {
  RunInstances: runInstances,
  DescribeInstances: describeInstances,
  TerminateInstances: terminateInstances,
  CreateTags: createTags,
  DescribeImages: describeImages,
  DescribeSubnets: describeSubnets,
  DescribeVolumes: describeVolumes,
  CreateVolume: createVolume,
  AttachVolume: attachVolume,
  DetachVolume: detachVolume,
  DescribeSpotPriceHistory: describeSpotPriceHistory,
  DescribeVpcs: describeVpcs,
  CreateSnapshot: createSnapshot,
  DescribeSnapshots: describeSnapshots,
};
