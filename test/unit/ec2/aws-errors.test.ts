import assert from "node:assert/strict";
import { test } from "node:test";
import { ERROR_STATUS } from "../../../backend/errors";
import { poolCodeFor, toPoolError } from "../../../backend/providers/ec2/aws-errors";

const awsErr = (name: string, message = "m") => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });

test("every AWS code the provider meets maps to a stable PoolError code", () => {
  const table: Record<string, string> = {
    RequestLimitExceeded: "PROVIDER_THROTTLED",
    ThrottlingException: "PROVIDER_THROTTLED",
    InsufficientInstanceCapacity: "PROVIDER_UNAVAILABLE",
    SpotMaxPriceTooLow: "PROVIDER_UNAVAILABLE",
    MaxSpotInstanceCountExceeded: "PROVIDER_UNAVAILABLE",
    InternalError: "PROVIDER_UNAVAILABLE",
    ServiceUnavailable: "PROVIDER_UNAVAILABLE",
    ECONNREFUSED: "PROVIDER_UNAVAILABLE",
    UnauthorizedOperation: "PROVIDER_ERROR",
    AccessDeniedException: "PROVIDER_ERROR",
    AuthFailure: "PROVIDER_ERROR",
    VcpuLimitExceeded: "PROVIDER_ERROR",
    "InvalidAMIID.NotFound": "INVALID_CONFIG",
    "InvalidSubnetID.NotFound": "INVALID_CONFIG",
    "InvalidGroup.NotFound": "INVALID_CONFIG",
    "InvalidIamInstanceProfile.NotFound": "INVALID_CONFIG",
    InvalidParameterValue: "INVALID_CONFIG",
    TargetNotConnected: "SSM_AGENT_OFFLINE",
    InvalidInstanceId: "SSM_AGENT_OFFLINE",
    "InvalidInstanceID.NotFound": "INSTANCE_NOT_FOUND",
    IncorrectInstanceState: "INSTANCE_NOT_RUNNING",
    VolumeInUse: "CONFLICT",
    IdempotentParameterMismatch: "CONFLICT",
    SomethingNew: "PROVIDER_ERROR",
  };
  for (const [code, want] of Object.entries(table)) {
    assert.equal(poolCodeFor(code), want, code);
    assert.ok(want in ERROR_STATUS);
  }
});

test("a missing permission names the IAM action; a throttle says it is retried", () => {
  const e = toPoolError(awsErr("UnauthorizedOperation", "You are not authorized to perform this operation."), { action: "ec2:RunInstances", target: "launch rsp-1" });
  assert.equal(e.code, "PROVIDER_ERROR");
  assert.match(e.message, /lacks permission for ec2:RunInstances/);
  assert.match(e.message, /docs\/aws\.md/);
  assert.equal(e.details?.awsCode, "UnauthorizedOperation");
  assert.match(toPoolError(awsErr("RequestLimitExceeded"), { action: "ec2:DescribeInstances" }).message, /retries/);
  assert.match(toPoolError(awsErr("InvalidSubnetID.NotFound"), { action: "ec2:RunInstances" }).message, /ec2\.subnetIds/);
});
