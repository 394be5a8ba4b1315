/**
 * What IAM authorizes for each call the fake server receives: the action on each resource it
 * touches, with the request context (tags of the request and of the resources, the launch's
 * metadata options, type, profile and encryption), as the EC2 and SSM service authorization
 * references describe them. The fake can then enforce a policy (world.authorize) while the real
 * provider runs, so a missing permission shows up as the same UnauthorizedOperation AWS sends.
 */
import type { FakeWorld } from "./fake-world";
import { firstDenied, type AuthRequest, type ContextValue } from "./iam-eval";
import { asList, tagsFrom, type QueryValue } from "./wire";

export const TEST_ACCOUNT = "123456789012";
export const TEST_PARTITION = "aws";

type Params = Record<string, QueryValue>;

function tagContext(prefix: "aws:RequestTag" | "aws:ResourceTag" | "ssm:resourceTag", tags: Record<string, string>): Record<string, ContextValue> {
  const out: Record<string, ContextValue> = {};
  for (const [k, v] of Object.entries(tags)) out[`${prefix}/${k}`] = v;
  return out;
}

function specTags(p: Params, type: string): Record<string, string> {
  for (const s of asList(p.TagSpecification)) {
    const o = s as Record<string, QueryValue>;
    if (o.ResourceType === type) return tagsFrom(o.Tag);
  }
  return {};
}

export function authRequestsFor(service: "ec2" | "ssm" | "logs", action: string, params: Record<string, unknown>, world: FakeWorld, region: string): AuthRequest[] {
  const ec2 = (type: string, id: string) => `arn:${TEST_PARTITION}:ec2:${region}:${TEST_ACCOUNT}:${type}/${id}`;
  const resourceTags = (id: string): Record<string, string> => (world.instances.get(id) ?? world.volumes.get(id) ?? world.snapshots.get(id))?.tags ?? {};
  const typeOf = (id: string) => (id.startsWith("vol-") ? "volume" : id.startsWith("snap-") ? "snapshot" : "instance");
  const arnOf = (id: string) => (typeOf(id) === "snapshot" ? `arn:${TEST_PARTITION}:ec2:${region}::snapshot/${id}` : ec2(typeOf(id), id));
  const onExisting = (act: string, id: string, extra: Record<string, ContextValue> = {}): AuthRequest => ({
    action: act,
    resource: arnOf(id),
    context: { ...tagContext("aws:ResourceTag", resourceTags(id)), ...extra },
  });
  const tagOnCreate = (p: Params, create: string, types: Array<[string, string]>): AuthRequest[] =>
    types
      .filter(([t]) => Object.keys(specTags(p, t)).length)
      .map(([t, arn]) => ({ action: "ec2:CreateTags", resource: arn, context: { "ec2:CreateAction": create, ...tagContext("aws:RequestTag", specTags(p, t)), "aws:TagKeys": Object.keys(specTags(p, t)) } }));

  if (service === "ec2") {
    const p = params as Params;
    switch (action) {
      case "RunInstances": {
        const md = (p.MetadataOptions ?? {}) as Record<string, string>;
        const profile = (p.IamInstanceProfile ?? {}) as Record<string, string>;
        const profileArn = profile.Arn ?? (profile.Name ? `arn:${TEST_PARTITION}:iam::${TEST_ACCOUNT}:instance-profile/${profile.Name}` : null);
        const market = (p.InstanceMarketOptions as Record<string, QueryValue> | undefined)?.MarketType === "spot" ? "spot" : "on-demand";
        const nic = (asList(p.NetworkInterface)[0] ?? {}) as Record<string, QueryValue>;
        const instTags = specTags(p, "instance");
        const reqs: AuthRequest[] = [
          {
            action: "ec2:RunInstances",
            resource: ec2("instance", "*"),
            context: {
              ...tagContext("aws:RequestTag", instTags),
              "aws:TagKeys": Object.keys(instTags),
              "ec2:InstanceType": String(p.InstanceType),
              "ec2:MetadataHttpTokens": md.HttpTokens ?? "optional",
              "ec2:MetadataHttpPutResponseHopLimit": md.HttpPutResponseHopLimit ?? "1",
              "ec2:InstanceMetadataTags": md.InstanceMetadataTags ?? "disabled",
              "ec2:InstanceMarketType": market,
              ...(profileArn ? { "ec2:InstanceProfile": profileArn } : {}),
            },
          },
          { action: "ec2:RunInstances", resource: `arn:${TEST_PARTITION}:ec2:${region}::image/${String(p.ImageId)}`, context: {} },
          { action: "ec2:RunInstances", resource: ec2("network-interface", "*"), context: {} },
        ];
        for (const m of asList(p.BlockDeviceMapping)) {
          const e = ((m as Record<string, QueryValue>).Ebs ?? {}) as Record<string, string>;
          reqs.push({ action: "ec2:RunInstances", resource: ec2("volume", "*"), context: { "ec2:Encrypted": e.Encrypted ?? "false", ...tagContext("aws:RequestTag", specTags(p, "volume")) } });
        }
        if (nic.SubnetId) reqs.push({ action: "ec2:RunInstances", resource: ec2("subnet", String(nic.SubnetId)), context: {} });
        for (const g of asList(nic.SecurityGroupId)) reqs.push({ action: "ec2:RunInstances", resource: ec2("security-group", String(g)), context: {} });
        if (p.KeyName) reqs.push({ action: "ec2:RunInstances", resource: ec2("key-pair", String(p.KeyName)), context: {} });
        if (market === "spot") reqs.push({ action: "ec2:RunInstances", resource: ec2("spot-instances-request", "*"), context: {} });
        if (profileArn) {
          const roleName = profileArn.split("/").at(-1)!;
          reqs.push({ action: "iam:PassRole", resource: `arn:${TEST_PARTITION}:iam::${TEST_ACCOUNT}:role/${roleName}`, context: { "iam:PassedToService": "ec2.amazonaws.com" } });
        }
        reqs.push(...tagOnCreate(p, "RunInstances", [["instance", ec2("instance", "*")], ["volume", ec2("volume", "*")]]));
        return reqs;
      }
      case "CreateVolume": {
        const tags = specTags(p, "volume");
        const reqs: AuthRequest[] = [
          { action: "ec2:CreateVolume", resource: ec2("volume", "*"), context: { "ec2:Encrypted": String(p.Encrypted ?? "false"), ...tagContext("aws:RequestTag", tags), "aws:TagKeys": Object.keys(tags) } },
        ];
        if (p.SnapshotId) reqs.push(onExisting("ec2:CreateVolume", String(p.SnapshotId)));
        reqs.push(...tagOnCreate(p, "CreateVolume", [["volume", ec2("volume", "*")]]));
        return reqs;
      }
      case "CreateSnapshot": {
        const tags = specTags(p, "snapshot");
        return [
          onExisting("ec2:CreateSnapshot", String(p.VolumeId)),
          { action: "ec2:CreateSnapshot", resource: `arn:${TEST_PARTITION}:ec2:${region}::snapshot/*`, context: { ...tagContext("aws:RequestTag", tags), "aws:TagKeys": Object.keys(tags) } },
          ...tagOnCreate(p, "CreateSnapshot", [["snapshot", `arn:${TEST_PARTITION}:ec2:${region}::snapshot/*`]]),
        ];
      }
      case "DeleteSnapshot":
        return [onExisting("ec2:DeleteSnapshot", String(p.SnapshotId))];
      case "CreateTags":
      case "DeleteTags": {
        const tags = tagsFrom(p.Tag);
        return asList(p.ResourceId).map((id) => onExisting(`ec2:${action}`, String(id), { ...tagContext("aws:RequestTag", tags), "aws:TagKeys": Object.keys(tags) }));
      }
      case "AttachVolume":
      case "DetachVolume":
        return [onExisting(`ec2:${action}`, String(p.InstanceId ?? world.volumes.get(String(p.VolumeId))?.attachment?.instanceId ?? "i-unknown")), onExisting(`ec2:${action}`, String(p.VolumeId))];
      case "TerminateInstances":
        return asList(p.InstanceId).map((id) => onExisting("ec2:TerminateInstances", String(id)));
      default:
        return [{ action: `ec2:${action}`, resource: "*", context: {} }];
    }
  }
  const b = params;
  if (service === "logs") {
    // CloudWatch Logs authorizes GetLogEvents on the stream's ARN.
    return [{ action: `logs:${action}`, resource: `arn:${TEST_PARTITION}:logs:${region}:${TEST_ACCOUNT}:log-group:${String(b.logGroupName)}:log-stream:${String(b.logStreamName)}`, context: {} }];
  }
  const ssmDoc = (name: string) => `arn:${TEST_PARTITION}:ssm:${region}::document/${name}`;
  const ssmOn = (act: string, id: string): AuthRequest => ({ action: act, resource: ec2("instance", id), context: tagContext("ssm:resourceTag", resourceTags(id)) });
  switch (action) {
    case "SendCommand":
      return [...((b.InstanceIds as string[]) ?? []).map((id) => ssmOn("ssm:SendCommand", id)), { action: "ssm:SendCommand", resource: ssmDoc(String(b.DocumentName)), context: {} }];
    case "StartSession": {
      const target = String(b.Target);
      // With SessionDocumentAccessCheck, a session without a document is checked against the default shell document.
      const doc = b.DocumentName ? String(b.DocumentName) : "SSM-SessionManagerRunShell";
      return [
        { ...ssmOn("ssm:StartSession", target), context: { ...tagContext("ssm:resourceTag", resourceTags(target)), "ssm:SessionDocumentAccessCheck": "true" } },
        { action: "ssm:StartSession", resource: ssmDoc(doc), context: {} },
      ];
    }
    case "TerminateSession":
    case "ResumeSession":
      return [{ action: `ssm:${action}`, resource: `arn:${TEST_PARTITION}:ssm:${region}:${TEST_ACCOUNT}:session/${String(b.SessionId)}`, context: {} }];
    default:
      return [{ action: `ssm:${action}`, resource: "*", context: {} }];
  }
}

/** An authorizer for FakeWorld.authorize that enforces the policy and remembers each request it checked. */
export function policyAuthorizer(policy: import("../../../backend/providers/ec2/iam-policy").IamPolicyDocument, region = "us-east-1") {
  const checked: AuthRequest[] = [];
  const authorize = (service: "ec2" | "ssm" | "logs", action: string, params: Record<string, unknown>, world: FakeWorld): string | null => {
    const reqs = authRequestsFor(service, action, params, world, region);
    checked.push(...reqs);
    const denied = firstDenied(policy, reqs);
    return denied ? `not authorized to perform ${denied.action} on resource ${denied.resource} (context ${JSON.stringify(denied.context)})` : null;
  };
  return { authorize, checked };
}
