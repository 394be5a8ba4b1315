/**
 * Builds the RunInstances input of one launch step. Pure: everything it needs (the image, the
 * subnet, the home volume, the rendered user data) is decided before and passed in, so the
 * request can be checked field by field in unit tests.
 */
import type { RunInstancesCommandInput } from "@aws-sdk/client-ec2";
import type { Ec2PurposeConfig, PurposeConfig } from "../../config/schema";
import type { LaunchStep } from "./launch-plan";
import { TAG, tagList, withCostTags } from "./tags";

export interface LaunchSpecInput {
  poolName: string;
  poolInstanceId: string;
  purpose: PurposeConfig & { ec2: Ec2PurposeConfig };
  ownerId: string | null;
  step: LaunchStep;
  image: { imageId: string; rootDeviceName: string };
  subnetId: string | null;
  homeVolumeId: string | null;
  userDataBase64: string;
}

export function instanceTags(input: Pick<LaunchSpecInput, "poolName" | "poolInstanceId" | "purpose" | "ownerId" | "homeVolumeId">): Record<string, string> {
  const own: Record<string, string> = {
    [TAG.name]: `${input.poolName}/${input.purpose.name}`,
    [TAG.pool]: input.poolName,
    [TAG.purpose]: input.purpose.name,
    [TAG.poolInstanceId]: input.poolInstanceId,
  };
  if (input.ownerId) own[TAG.owner] = input.ownerId;
  if (input.homeVolumeId) own[TAG.homeVolume] = input.homeVolumeId;
  return withCostTags(input.purpose.costTags, own);
}

/** Tags of the volumes created with the instance (its root volume). */
export function rootVolumeTags(input: Pick<LaunchSpecInput, "poolName" | "poolInstanceId" | "purpose" | "ownerId">): Record<string, string> {
  const own: Record<string, string> = {
    [TAG.pool]: input.poolName,
    [TAG.purpose]: input.purpose.name,
    [TAG.poolInstanceId]: input.poolInstanceId,
    [TAG.role]: "root",
  };
  if (input.ownerId) own[TAG.owner] = input.ownerId;
  return withCostTags(input.purpose.costTags, own);
}

export function iamInstanceProfile(profile: string | undefined): RunInstancesCommandInput["IamInstanceProfile"] {
  if (!profile) return undefined;
  return profile.startsWith("arn:") ? { Arn: profile } : { Name: profile };
}

export function buildRunInstancesInput(input: LaunchSpecInput): RunInstancesCommandInput {
  const ec2 = input.purpose.ec2;
  const spec: RunInstancesCommandInput = {
    ImageId: input.image.imageId,
    InstanceType: input.step.instanceType as RunInstancesCommandInput["InstanceType"],
    MinCount: 1,
    MaxCount: 1,
    ClientToken: input.step.clientToken,
    UserData: input.userDataBase64,
    // The interface decides the public IP explicitly, whatever the subnet's default is.
    NetworkInterfaces: [
      {
        DeviceIndex: 0,
        ...(input.subnetId ? { SubnetId: input.subnetId } : {}),
        ...(ec2.securityGroupIds.length ? { Groups: ec2.securityGroupIds } : {}),
        AssociatePublicIpAddress: ec2.associatePublicIp,
        DeleteOnTermination: true,
      },
    ],
    BlockDeviceMappings: [
      {
        DeviceName: input.image.rootDeviceName,
        Ebs: {
          VolumeSize: ec2.rootVolumeGiB,
          VolumeType: "gp3",
          Encrypted: true,
          ...(ec2.kmsKeyId ? { KmsKeyId: ec2.kmsKeyId } : {}),
          DeleteOnTermination: true,
        },
      },
    ],
    MetadataOptions: {
      HttpTokens: "required",
      HttpEndpoint: "enabled",
      HttpPutResponseHopLimit: ec2.metadataHopLimit,
      InstanceMetadataTags: "disabled",
    },
    TagSpecifications: [
      { ResourceType: "instance", Tags: tagList(instanceTags(input)) },
      { ResourceType: "volume", Tags: tagList(rootVolumeTags(input)) },
    ],
    IamInstanceProfile: iamInstanceProfile(ec2.instanceProfile),
    ...(ec2.keyName ? { KeyName: ec2.keyName } : {}),
  };
  if (input.step.market === "spot") {
    spec.InstanceMarketOptions = {
      MarketType: "spot",
      SpotOptions: {
        SpotInstanceType: "one-time",
        InstanceInterruptionBehavior: "terminate",
        ...(ec2.spotMaxPrice !== undefined ? { MaxPrice: String(ec2.spotMaxPrice) } : {}),
      },
    };
  }
  if (!spec.IamInstanceProfile) delete spec.IamInstanceProfile;
  return spec;
}
