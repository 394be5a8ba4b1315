import assert from "node:assert/strict";
import { test } from "node:test";
import { classifyLaunchError } from "../../../backend/providers/ec2/aws-errors";
import { cellToken, clientTokenFor, launchMatrix } from "../../../backend/providers/ec2/launch-plan";
import { buildRunInstancesInput } from "../../../backend/providers/ec2/launch-spec";
import { ec2PurposeConfig } from "../../support/aws/builders";

const step = { index: 0, instanceType: "t3.large", market: "spot" as const, clientToken: "rsp-0123456789abcdef-0" };
const input = (over: Partial<Parameters<typeof buildRunInstancesInput>[0]> = {}) =>
  buildRunInstancesInput({
    poolName: "prod",
    poolInstanceId: "rsp-0123456789abcdef",
    purpose: ec2PurposeConfig({ ec2: { market: "spot", spotMaxPrice: 0.05 } }),
    ownerId: "alice",
    step,
    image: { imageId: "ami-0aaaaaaaaaaaaaaa2", rootDeviceName: "/dev/xvda" },
    subnetId: "subnet-0a1",
    homeVolumeId: "vol-0abc",
    userDataBase64: "IyEvYmluL2Jhc2g=",
    ...over,
  });

test("tags go on the instance and its volumes; the pool's tags win over cost tags", () => {
  const spec = buildRunInstancesInput({
    ...{ poolName: "prod", poolInstanceId: "rsp-0123456789abcdef", ownerId: "alice", step, subnetId: "subnet-0a1", homeVolumeId: null, userDataBase64: "" },
    image: { imageId: "ami-1", rootDeviceName: "/dev/xvda" },
    purpose: ec2PurposeConfig({ costTags: { CostCenter: "r&d", Pool: "hijack", "aws:reserved": "x" } }),
  });
  const byType = Object.fromEntries(spec.TagSpecifications!.map((t) => [t.ResourceType, Object.fromEntries(t.Tags!.map((x) => [x.Key, x.Value]))]));
  assert.deepEqual(byType.instance, { CostCenter: "r&d", Name: "prod/rstudio", Pool: "prod", Purpose: "rstudio", PoolInstanceId: "rsp-0123456789abcdef", Owner: "alice" });
  assert.deepEqual(byType.volume, { CostCenter: "r&d", Pool: "prod", Purpose: "rstudio", PoolInstanceId: "rsp-0123456789abcdef", Role: "root", Owner: "alice" });
});

test("hardened by default: IMDSv2 required with hop limit 1, no public IP, encrypted root volume", () => {
  const spec = input();
  assert.deepEqual(spec.MetadataOptions, { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 1, InstanceMetadataTags: "disabled" });
  assert.equal(spec.NetworkInterfaces![0]!.AssociatePublicIpAddress, false);
  assert.equal(spec.NetworkInterfaces![0]!.SubnetId, "subnet-0a1");
  assert.deepEqual(spec.NetworkInterfaces![0]!.Groups, ["sg-0123abcd"]);
  assert.equal(spec.SubnetId, undefined);
  assert.deepEqual(spec.BlockDeviceMappings, [{ DeviceName: "/dev/xvda", Ebs: { VolumeSize: 30, VolumeType: "gp3", Encrypted: true, DeleteOnTermination: true } }]);
  assert.equal(spec.KeyName, undefined);
  const open = input({ purpose: ec2PurposeConfig({ ec2: { associatePublicIp: true, metadataHopLimit: 2, kmsKeyId: "alias/pool", keyName: "ops" } }) });
  assert.equal(open.NetworkInterfaces![0]!.AssociatePublicIpAddress, true);
  assert.equal(open.MetadataOptions!.HttpPutResponseHopLimit, 2);
  assert.equal(open.BlockDeviceMappings![0]!.Ebs!.KmsKeyId, "alias/pool");
  assert.equal(open.KeyName, "ops");
});

test("spot options, client token, user data, instance profile, home volume tag", () => {
  const spec = input();
  assert.deepEqual(spec.InstanceMarketOptions, { MarketType: "spot", SpotOptions: { SpotInstanceType: "one-time", InstanceInterruptionBehavior: "terminate", MaxPrice: "0.05" } });
  assert.equal(spec.ClientToken, "rsp-0123456789abcdef-0");
  assert.equal(spec.UserData, "IyEvYmluL2Jhc2g=");
  assert.deepEqual(spec.IamInstanceProfile, { Name: "rstudio-pool-instance" });
  assert.equal(spec.InstanceType, "t3.large");
  assert.equal(spec.ImageId, "ami-0aaaaaaaaaaaaaaa2");
  assert.equal(spec.TagSpecifications![0]!.Tags!.find((t) => t.Key === "HomeVolume")?.Value, "vol-0abc");
  assert.equal(input({ step: { ...step, market: "on-demand" } }).InstanceMarketOptions, undefined);
  const arn = input({ purpose: ec2PurposeConfig({ ec2: { instanceProfile: "arn:aws:iam::1:instance-profile/x" } }) });
  assert.deepEqual(arn.IamInstanceProfile, { Arn: "arn:aws:iam::1:instance-profile/x" });
});

test("the launch matrix: spot before on-demand, types in order, every subnet of a type before the next type; the home's zone first", () => {
  const subnets = [{ subnetId: "subnet-0a1", availabilityZone: "us-east-1a" }, { subnetId: "subnet-0b2", availabilityZone: "us-east-1b" }];
  const m = launchMatrix("rsp-1", { instanceTypes: ["t3.large", "m5.large"], market: "spot", spotFallbackToOnDemand: true }, subnets, ["us-east-1b"]);
  assert.deepEqual(m.map((c) => `${c.market}/${c.instanceType}/${c.zone}`), [
    "spot/t3.large/us-east-1b", "spot/t3.large/us-east-1a", "spot/m5.large/us-east-1b", "spot/m5.large/us-east-1a",
    "on-demand/t3.large/us-east-1b", "on-demand/t3.large/us-east-1a", "on-demand/m5.large/us-east-1b", "on-demand/m5.large/us-east-1a",
  ]);
  assert.equal(new Set(m.map((c) => c.clientToken)).size, m.length, "one token per cell");
  assert.ok(m.every((c) => c.clientToken.length <= 64));
  assert.equal(m[0]!.clientToken, cellToken("rsp-1", "t3.large", "spot", "subnet-0b2"), "the token is the cell's, not its place in the walk");
  assert.equal(launchMatrix("rsp-1", { instanceTypes: ["t3.large"], market: "spot", spotFallbackToOnDemand: false }, subnets).length, 2);
  assert.deepEqual(launchMatrix("rsp-1", { instanceTypes: ["a.b"], market: "on-demand", spotFallbackToOnDemand: true }, []).map((c) => [c.market, c.subnetId]), [["on-demand", null]]);
  assert.throws(() => clientTokenFor("x".repeat(64), 0), /client token/);
});

test("launch error classes", () => {
  assert.equal(classifyLaunchError("InsufficientInstanceCapacity", "", "t3.large"), "next-cell");
  assert.equal(classifyLaunchError("Unsupported", "", "t3.large"), "next-cell");
  assert.equal(classifyLaunchError("InvalidParameterValue", "The architecture 'arm64' of the specified instance type does not match the architecture 'x86_64' of the specified AMI.", "m7g.large"), "skip-type");
  assert.equal(classifyLaunchError("InvalidParameterCombination", "Enhanced networking is not supported for m1.small", "m1.small"), "skip-type");
  assert.equal(classifyLaunchError("InvalidParameterValue", "Invalid security group", "t3.large"), "fatal");
  assert.equal(classifyLaunchError("MaxSpotInstanceCountExceeded", "", "t3.large"), "skip-spot");
  assert.equal(classifyLaunchError("AuthFailure.ServiceLinkedRoleCreationNotPermitted", "", "t3.large"), "spot-role-missing");
  assert.equal(classifyLaunchError("AuthFailure", "", "t3.large"), "fatal");
  assert.equal(classifyLaunchError("IdempotentParameterMismatch", "", "t3.large"), "idempotent-mismatch");
});
