/**
 * Turns errors from the AWS SDK (EC2 query/XML and SSM JSON) into PoolErrors with stable codes,
 * so the pool knows what to retry (PROVIDER_THROTTLED, PROVIDER_UNAVAILABLE) and what is for
 * good (a missing permission, a wrong id in the configuration). Messages say what to do next.
 */
import { PoolError, type ErrorCode } from "../../errors";

/** The code AWS sent (the SDK puts it in `name`; some errors also carry `Code`). */
export function awsErrorCode(err: unknown): string | null {
  if (!err || typeof err !== "object") return null;
  const e = err as { name?: unknown; Code?: unknown; code?: unknown; $metadata?: unknown };
  if (typeof e.Code === "string") return e.Code;
  if (typeof e.name === "string" && e.$metadata !== undefined) return e.name;
  if (typeof e.code === "string") return e.code; // Node network errors: ECONNREFUSED, ...
  if (typeof e.name === "string" && e.name !== "Error") return e.name;
  return null;
}

/** Request throttling: the pool (or the launch queue) retries with backoff. */
export const THROTTLING_CODES = new Set([
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestThrottled",
  "RequestThrottledException",
]);

/**
 * Errors after which the next instance type (then on-demand) may well succeed: no capacity for
 * this type in this zone, a spot price or count limit, a type the zone does not offer.
 */
export const TRY_NEXT_TYPE_CODES = new Set([
  "InsufficientInstanceCapacity",
  "InsufficientCapacity",
  "InsufficientHostCapacity",
  "InsufficientReservedInstanceCapacity",
  "SpotMaxPriceTooLow",
  "MaxSpotInstanceCountExceeded",
  "Unsupported",
  "InsufficientFreeAddressesInSubnet",
]);

/** Service-side failures and network trouble: retried later. */
const UNAVAILABLE_CODES = new Set([
  "InternalError",
  "InternalFailure",
  "InternalServerError",
  "ServiceUnavailable",
  "Unavailable",
  "ServiceUnavailableException",
  "TimeoutError",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "InvocationDoesNotExist", // SSM: a command invocation is not visible yet
]);

/** Bad ids or values in the purpose's configuration: retrying cannot help, an admin must fix it. */
const CONFIG_CODES: Record<string, string> = {
  "InvalidAMIID.NotFound": "the AMI (ec2.imageId or the image found by ec2.imageFilter) does not exist in this region",
  "InvalidAMIID.Malformed": "ec2.imageId is not a valid AMI id",
  "InvalidAMIID.Unavailable": "the AMI is not available (deregistered or still pending)",
  "InvalidSubnetID.NotFound": "a subnet in ec2.subnetIds does not exist in this region",
  "InvalidGroup.NotFound": "a security group in ec2.securityGroupIds does not exist in this region",
  "InvalidGroupId.Malformed": "a security group id in ec2.securityGroupIds is malformed",
  "InvalidKeyPair.NotFound": "the key pair in ec2.keyName does not exist in this region",
  "InvalidParameterValue": "a value in the purpose's ec2 section was refused",
  "InvalidParameterCombination": "the purpose's ec2 settings do not go together (e.g. an instance type that does not support this AMI)",
  "InvalidParameter": "a parameter in the purpose's ec2 section was refused",
  "InvalidInstanceType": "an instance type in ec2.instanceTypes is unknown",
  "InvalidBlockDeviceMapping": "the root volume settings (ec2.rootVolumeGiB) do not fit the AMI",
  "InvalidIamInstanceProfile.NotFound": "the instance profile in ec2.instanceProfile does not exist",
  "KMSKeyNotAccessibleFault": "the KMS key that encrypts the volumes cannot be used by the backend or the instance",
  "InvalidDocument": "the SSM document is missing in this region",
};

const CREDENTIAL_CODES = new Set([
  "AuthFailure",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "ExpiredToken",
  "ExpiredTokenException",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "CredentialsProviderError",
]);

const PERMISSION_CODES = new Set(["UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "Blocked", "OptInRequired"]);

const QUOTA_CODES = new Set(["VcpuLimitExceeded", "InstanceLimitExceeded", "VolumeLimitExceeded", "MaxIOPSLimitExceeded"]);

export interface AwsCall {
  /** The IAM action, e.g. "ec2:RunInstances". */
  action: string;
  /** What we were doing, for the message: "launch instance rp-123". */
  target?: string;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The PoolError code an AWS error code maps to (the table the docs and tests use). */
export function poolCodeFor(code: string | null): ErrorCode {
  if (!code) return "PROVIDER_ERROR";
  if (THROTTLING_CODES.has(code)) return "PROVIDER_THROTTLED";
  if (UNAVAILABLE_CODES.has(code) || TRY_NEXT_TYPE_CODES.has(code)) return "PROVIDER_UNAVAILABLE";
  if (code in CONFIG_CODES) return "INVALID_CONFIG";
  if (code === "TargetNotConnected" || code === "InvalidInstanceId") return "SSM_AGENT_OFFLINE";
  if (code === "InvalidInstanceID.NotFound" || code === "InvalidInstanceID.Malformed") return "INSTANCE_NOT_FOUND";
  if (code === "IncorrectInstanceState") return "INSTANCE_NOT_RUNNING";
  if (code === "VolumeInUse" || code === "IncorrectState" || code === "IdempotentParameterMismatch") return "CONFLICT";
  return "PROVIDER_ERROR";
}

/** Wraps any error from an AWS call into a PoolError; PoolErrors pass through unchanged. */
export function toPoolError(err: unknown, call: AwsCall): PoolError {
  if (err instanceof PoolError) return err;
  const code = awsErrorCode(err);
  const poolCode = poolCodeFor(code);
  const target = call.target ? ` (${call.target})` : "";
  const awsMsg = messageOf(err);
  const details = { awsCode: code, action: call.action };
  let text: string;
  if (code && THROTTLING_CODES.has(code)) {
    text = `AWS is throttling ${call.action}${target}; the pool retries with backoff.`;
  } else if (code && PERMISSION_CODES.has(code)) {
    text = `Failed to call ${call.action}${target}: the backend's AWS identity lacks permission for ${call.action}. Add it to the backend's IAM policy (see docs/aws.md). AWS said: ${awsMsg}`;
  } else if (code && CREDENTIAL_CODES.has(code)) {
    text = `Failed to call ${call.action}${target}: AWS refused the backend's credentials (${code}). Check AWS_PROFILE / the instance role and that the clock is right.`;
  } else if (code && QUOTA_CODES.has(code)) {
    text = `Failed to call ${call.action}${target}: an AWS account quota is reached (${code}). Request a quota increase or lower the purpose's max. AWS said: ${awsMsg}`;
  } else if (code && code in CONFIG_CODES) {
    text = `Failed to call ${call.action}${target}: ${CONFIG_CODES[code]}. Fix the purpose configuration. AWS said: ${awsMsg}`;
  } else if (poolCode === "SSM_AGENT_OFFLINE") {
    text = `The instance's SSM agent is not connected${target}; wait a minute and try again, or claim a new instance.`;
  } else if (poolCode === "PROVIDER_UNAVAILABLE") {
    text = `AWS could not serve ${call.action}${target} right now (${code ?? "error"}); the pool retries. AWS said: ${awsMsg}`;
  } else {
    text = `Failed to call ${call.action}${target}: ${code ?? "error"}: ${awsMsg}`;
  }
  return new PoolError(poolCode, text, details);
}

/** Runs an AWS call and rethrows its failure as a PoolError. */
export async function aws<T>(call: AwsCall, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toPoolError(err, call);
  }
}

/** What a launch walk does after a failed RunInstances cell. */
export type LaunchErrorClass = "next-cell" | "skip-type" | "skip-spot" | "spot-role-missing" | "idempotent-mismatch" | "fatal";

/** The spot service-linked role is missing and this identity may not create it. */
export const SPOT_ROLE_CODE = "AuthFailure.ServiceLinkedRoleCreationNotPermitted";
export const SPOT_ROLE_FIX =
  "EC2 needs the spot service-linked role once per account: run `aws iam create-service-linked-role --aws-service-name spot.amazonaws.com` (or allow iam:CreateServiceLinkedRole for spot.amazonaws.com); until then the pool launches on-demand";

/**
 * Classifies a failed launch cell: capacity (next cell), a parameter that belongs to this
 * instance type (an arm64 type with an x86 image: skip the type), the account's spot quota or a
 * missing spot role (skip spot, go on-demand), or fatal (a setting an admin must fix).
 */
export function classifyLaunchError(code: string | null, message: string, instanceType: string): LaunchErrorClass {
  if (!code) return "fatal";
  if (code === "IdempotentParameterMismatch") return "idempotent-mismatch";
  if (code === "MaxSpotInstanceCountExceeded") return "skip-spot";
  if (code === SPOT_ROLE_CODE) return "spot-role-missing";
  if ((code === "InvalidParameterCombination" || code === "InvalidParameterValue") && (message.includes(instanceType) || /architecture|instance type/i.test(message))) return "skip-type";
  if (TRY_NEXT_TYPE_CODES.has(code)) return "next-cell";
  return "fatal";
}
