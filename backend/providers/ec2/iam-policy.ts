/**
 * The one source of the IAM policies the EC2 provider needs: the backend identity's policy
 * (what backend/providers/ec2 calls, each action on the narrowest resource and conditions IAM
 * offers) and the instance role's policy (what the SSM agent needs, nothing for user code).
 * docs/aws.md shows the rendered policy, `rstudio-pool iam-policy` prints it for a deployment,
 * deploy/ renders it into Terraform by calling these functions with "${...}" placeholders, and
 * test/integration/ec2/iam-policy.test.ts checks that every call the provider makes through the
 * wire-format fake is allowed by it (and that what must stay forbidden is).
 *
 * Arguments are used verbatim (no format checks), so placeholders such as "${partition}" pass.
 */

import { jobStatements, logStreamsArn, type JobsPolicyVars } from "./iam-policy-jobs";

export type { EcsPolicyTarget, JobsPolicyVars } from "./iam-policy-jobs";

export interface IamStatement {
  Sid: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface IamPolicyDocument {
  Version: "2012-10-17";
  Statement: IamStatement[];
}

export interface BackendPolicyVars {
  partition: string;
  region: string;
  accountId: string;
  /** The value of the Pool tag (POOL_NAME). */
  poolName: string;
  /** The role the instances run as (iam:PassRole is allowed for it only). */
  instanceRoleArn: string;
  /** The instance profile; default: the role's ARN with ":role/" read as ":instance-profile/" (same name). */
  instanceProfileArn?: string;
  /** Instance types the purposes may launch; absent: no type condition (say so in the deployment). */
  instanceTypes?: string[];
  /** A customer-managed KMS key for the volumes: adds the grants EBS needs on that key only. */
  kmsKeyArn?: string;
  /** The events queue (POOL_EVENTS_QUEUE_URL's ARN): read and delete its messages, nothing else. */
  eventsQueueArn?: string;
  /** Batch jobs (issue #18) beyond the EC2 runner's Run Command, which every pool needs. */
  jobs?: JobsPolicyVars;
}

export interface InstancePolicyVars {
  partition: string;
  region: string;
  accountId: string;
  poolName: string;
  /** Log groups the SSM agent writes the jobs' Run Command output to (CloudWatchOutputConfig). */
  jobLogGroups?: string[];
}

/** Tag keys the backend may set on pool resources after they exist: never Pool, Purpose or PoolInstanceId. */
export const MUTABLE_TAG_KEYS = ["Owner", "HomeVolume", "Role", "HomeMovedTo"] as const;
/** The SSM documents the backend uses. */
export const SHELL_DOCUMENT_NAME = "AWS-RunShellScript";
export const PORT_FORWARD_DOCUMENT_NAME = "AWS-StartPortForwardingSession";

export interface ApiCall {
  /** The IAM action. */
  action: string;
  /** The SDK command class that sends it (what the coverage test looks for in the code). */
  command: string | null;
  /** Where it is called and why. */
  why: string;
  /** The resources IAM authorizes the call on. */
  resources: string;
  /** Condition keys the policy uses for it ("-": the action has no resource-level permissions). */
  conditionKeys: string[];
}

/** Every AWS API action the EC2 provider calls, with the condition keys the policy pins. */
export const API_CALLS: ApiCall[] = [
  { action: "ec2:DescribeInstances", command: "DescribeInstancesCommand", why: "listing (Pool tag filter), describe while booting", resources: "*", conditionKeys: ["-"] },
  { action: "ec2:DescribeImages", command: "DescribeImagesCommand", why: "imageId / newest imageFilter match", resources: "*", conditionKeys: ["-"] },
  { action: "ec2:DescribeSubnets", command: "DescribeSubnetsCommand", why: "subnet -> zone; default subnets of the default VPC", resources: "*", conditionKeys: ["-"] },
  { action: "ec2:DescribeVpcs", command: "DescribeVpcsCommand", why: "finding the default VPC when no subnet is configured", resources: "*", conditionKeys: ["-"] },
  { action: "ec2:DescribeVolumes", command: "DescribeVolumesCommand", why: "users' homes, attach/detach waits", resources: "*", conditionKeys: ["-"] },
  { action: "ec2:DescribeSnapshots", command: "DescribeSnapshotsCommand", why: "home move: waiting for the snapshot", resources: "*", conditionKeys: ["-"] },
  { action: "ec2:DescribeSpotPriceHistory", command: "DescribeSpotPriceHistoryCommand", why: "spot prices", resources: "*", conditionKeys: ["-"] },
  {
    action: "ec2:RunInstances",
    command: "RunInstancesCommand",
    why: "launch",
    resources: "instance/*, volume/*, network-interface/*, spot-instances-request/*, subnet/*, security-group/*, image/*, key-pair/*",
    conditionKeys: ["aws:RequestTag/Pool", "ec2:MetadataHttpTokens", "ec2:MetadataHttpPutResponseHopLimit", "ec2:InstanceMetadataTags", "ec2:InstanceType", "ec2:InstanceProfile", "ec2:Encrypted"],
  },
  { action: "ec2:CreateVolume", command: "CreateVolumeCommand", why: "users' homes (created in the instance's zone), home move", resources: "volume/*, snapshot/* (home move)", conditionKeys: ["aws:RequestTag/Pool", "ec2:Encrypted", "aws:ResourceTag/Pool (snapshot)"] },
  { action: "ec2:CreateSnapshot", command: "CreateSnapshotCommand", why: "home move to another zone", resources: "volume/*, snapshot/*", conditionKeys: ["aws:ResourceTag/Pool (volume)", "aws:RequestTag/Pool (snapshot)"] },
  {
    action: "ec2:CreateTags",
    command: "CreateTagsCommand",
    why: "tags on create (RunInstances, CreateVolume, CreateSnapshot); Owner/HomeVolume on assign and boot; Role/HomeMovedTo on a moved home",
    resources: "instance/*, volume/*, snapshot/*",
    conditionKeys: ["ec2:CreateAction", "aws:ResourceTag/Pool", "aws:TagKeys"],
  },
  { action: "ec2:AttachVolume", command: "AttachVolumeCommand", why: "home onto the user's instance", resources: "instance/*, volume/*", conditionKeys: ["aws:ResourceTag/Pool"] },
  { action: "ec2:DetachVolume", command: "DetachVolumeCommand", why: "home off on release", resources: "instance/*, volume/*", conditionKeys: ["aws:ResourceTag/Pool"] },
  { action: "ec2:TerminateInstances", command: "TerminateInstancesCommand", why: "reap, release, orphans", resources: "instance/*", conditionKeys: ["aws:ResourceTag/Pool"] },
  { action: "ssm:DescribeInstanceInformation", command: "DescribeInstanceInformationCommand", why: "agent online (readiness, connect)", resources: "*", conditionKeys: ["-"] },
  { action: "ssm:SendCommand", command: "SendCommandCommand", why: "mount/unmount home, readiness probe, busy check", resources: "instance/*, document/AWS-RunShellScript", conditionKeys: ["ssm:resourceTag/Pool"] },
  { action: "ssm:GetCommandInvocation", command: "GetCommandInvocationCommand", why: "Run Command results", resources: "*", conditionKeys: ["-"] },
  { action: "ssm:DescribeSessions", command: "DescribeSessionsCommand", why: "finding the sessions to end on release and reap", resources: "*", conditionKeys: ["-"] },
  { action: "ssm:StartSession", command: "StartSessionCommand", why: "port forwarding for the owner", resources: "instance/*, document/AWS-StartPortForwardingSession", conditionKeys: ["ssm:resourceTag/Pool", "ssm:SessionDocumentAccessCheck"] },
  { action: "ssm:ResumeSession", command: "ResumeSessionCommand", why: "a new token for the owner's session the service closed (the extension's native client)", resources: "session/*", conditionKeys: [] },
  { action: "ssm:TerminateSession", command: "TerminateSessionCommand", why: "ending the owner's sessions on release and reap", resources: "session/*", conditionKeys: [] },
  { action: "iam:PassRole", command: null, why: "RunInstances with the instance profile; RunTask with the ECS task's roles (jobs on ECS)", resources: "the instance role; the ECS task definition's roles", conditionKeys: ["iam:PassedToService"] },
  { action: "ssm:CancelCommand", command: "CancelCommandCommand", why: "cancelling a job's Run Command (EC2 jobs)", resources: "*", conditionKeys: ["-"] },
  { action: "logs:GetLogEvents", command: "GetLogEventsCommand", why: "a job's log: Run Command's CloudWatch output, an ECS task's awslogs stream", resources: "the configured log groups' streams only", conditionKeys: [] },
  { action: "ecs:RunTask", command: "RunTaskCommand", why: "starting a job on ECS (purposes with jobs.runner ecs)", resources: "the purposes' task definitions", conditionKeys: ["ecs:cluster"] },
  { action: "ecs:TagResource", command: null, why: "RunTask's tags (job, user, purpose) on the new task", resources: "task/<cluster>/*", conditionKeys: ["ecs:CreateAction"] },
  { action: "ecs:DescribeTasks", command: "DescribeTasksCommand", why: "an ECS job's state and exit code", resources: "task/<cluster>/*", conditionKeys: ["ecs:cluster"] },
  { action: "ecs:StopTask", command: "StopTaskCommand", why: "cancelling an ECS job", resources: "task/<cluster>/*", conditionKeys: ["ecs:cluster"] },
  { action: "sqs:ReceiveMessage", command: "ReceiveMessageCommand", why: "spot warnings, rebalance recommendations, state changes from EventBridge", resources: "the events queue only", conditionKeys: [] },
  { action: "sqs:DeleteMessage", command: "DeleteMessageBatchCommand", why: "an event handled (or unreadable) leaves the queue", resources: "the events queue only", conditionKeys: [] },
  { action: "sqs:ChangeMessageVisibility", command: "ChangeMessageVisibilityBatchCommand", why: "an event whose handling failed comes back soon", resources: "the events queue only", conditionKeys: [] },
];

function profileArnOf(v: BackendPolicyVars): string | null {
  if (v.instanceProfileArn) return v.instanceProfileArn;
  return v.instanceRoleArn.includes(":role/") ? v.instanceRoleArn.replace(":role/", ":instance-profile/") : null;
}

export function backendPolicyDocument(v: BackendPolicyVars): IamPolicyDocument {
  const ec2 = (type: string, id = "*") => `arn:${v.partition}:ec2:${v.region}:${v.accountId}:${type}/${id}`;
  const ssmDoc = (name: string) => `arn:${v.partition}:ssm:${v.region}::document/${name}`;
  const inPool = { StringEquals: { "aws:ResourceTag/Pool": v.poolName } };
  const ssmInPool = { StringEquals: { "ssm:resourceTag/Pool": v.poolName } };
  const profile = profileArnOf(v);

  const instanceConditions: Record<string, Record<string, string | string[]>> = {
    StringEquals: {
      "aws:RequestTag/Pool": v.poolName,
      // IMDSv2 only, instance tags kept out of metadata: a launch without them is refused.
      "ec2:MetadataHttpTokens": "required",
      "ec2:InstanceMetadataTags": "disabled",
      ...(v.instanceTypes?.length ? { "ec2:InstanceType": v.instanceTypes } : {}),
    },
    NumericLessThanEquals: { "ec2:MetadataHttpPutResponseHopLimit": "2" },
  };
  if (profile) instanceConditions.ArnEquals = { "ec2:InstanceProfile": profile };

  const statements: IamStatement[] = [
    {
      Sid: "Read",
      Effect: "Allow",
      Action: [
        "ec2:DescribeInstances",
        "ec2:DescribeImages",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
        "ec2:DescribeVolumes",
        "ec2:DescribeSnapshots",
        "ec2:DescribeSpotPriceHistory",
        "ssm:DescribeInstanceInformation",
        "ssm:GetCommandInvocation",
        "ssm:DescribeSessions",
      ],
      // These actions have no resource-level permissions.
      Resource: "*",
    },
    { Sid: "LaunchPoolInstances", Effect: "Allow", Action: "ec2:RunInstances", Resource: ec2("instance"), Condition: instanceConditions },
    {
      Sid: "LaunchEncryptedVolumes",
      Effect: "Allow",
      Action: "ec2:RunInstances",
      Resource: ec2("volume"),
      Condition: { Bool: { "ec2:Encrypted": "true" } },
    },
    {
      Sid: "LaunchWith",
      Effect: "Allow",
      Action: "ec2:RunInstances",
      Resource: [
        `arn:${v.partition}:ec2:${v.region}::image/*`,
        ec2("subnet"),
        ec2("network-interface"),
        ec2("security-group"),
        ec2("key-pair"),
        // Spot launches also create a spot instance request (without this, every spot launch is refused).
        ec2("spot-instances-request"),
      ],
    },
    {
      Sid: "CreatePoolVolumes",
      Effect: "Allow",
      Action: "ec2:CreateVolume",
      Resource: ec2("volume"),
      Condition: { StringEquals: { "aws:RequestTag/Pool": v.poolName }, Bool: { "ec2:Encrypted": "true" } },
    },
    { Sid: "CreateVolumesFromPoolSnapshots", Effect: "Allow", Action: "ec2:CreateVolume", Resource: `arn:${v.partition}:ec2:${v.region}::snapshot/*`, Condition: inPool },
    { Sid: "SnapshotPoolVolumes", Effect: "Allow", Action: "ec2:CreateSnapshot", Resource: ec2("volume"), Condition: inPool },
    {
      Sid: "CreatePoolSnapshots",
      Effect: "Allow",
      Action: "ec2:CreateSnapshot",
      Resource: `arn:${v.partition}:ec2:${v.region}::snapshot/*`,
      Condition: { StringEquals: { "aws:RequestTag/Pool": v.poolName } },
    },
    {
      Sid: "TagOnCreate",
      Effect: "Allow",
      Action: "ec2:CreateTags",
      Resource: [ec2("instance"), ec2("volume"), `arn:${v.partition}:ec2:${v.region}::snapshot/*`],
      // The create call itself is conditioned on the Pool tag (above).
      Condition: { StringEquals: { "ec2:CreateAction": ["RunInstances", "CreateVolume", "CreateSnapshot"] } },
    },
    {
      Sid: "RetagPoolResources",
      Effect: "Allow",
      Action: "ec2:CreateTags",
      Resource: [ec2("instance"), ec2("volume")],
      // Only the keys that change after creation: Pool, Purpose and PoolInstanceId cannot be rewritten.
      Condition: { StringEquals: { "aws:ResourceTag/Pool": v.poolName }, "ForAllValues:StringEquals": { "aws:TagKeys": [...MUTABLE_TAG_KEYS] } },
    },
    {
      Sid: "ActOnPoolResources",
      Effect: "Allow",
      Action: ["ec2:TerminateInstances", "ec2:AttachVolume", "ec2:DetachVolume"],
      Resource: [ec2("instance"), ec2("volume")],
      Condition: inPool,
    },
    { Sid: "RunCommandOnPoolInstances", Effect: "Allow", Action: "ssm:SendCommand", Resource: ec2("instance"), Condition: ssmInPool },
    { Sid: "RunCommandDocument", Effect: "Allow", Action: "ssm:SendCommand", Resource: ssmDoc(SHELL_DOCUMENT_NAME) },
    {
      Sid: "PortForwardToPoolInstances",
      Effect: "Allow",
      Action: "ssm:StartSession",
      Resource: ec2("instance"),
      // SessionDocumentAccessCheck: a StartSession without a document name must be allowed on the
      // default shell document, which this policy never allows, so the backend cannot open a shell.
      Condition: { ...ssmInPool, Bool: { "ssm:SessionDocumentAccessCheck": "true" } },
    },
    { Sid: "PortForwardDocument", Effect: "Allow", Action: "ssm:StartSession", Resource: ssmDoc(PORT_FORWARD_DOCUMENT_NAME) },
    { Sid: "EndSessions", Effect: "Allow", Action: ["ssm:TerminateSession", "ssm:ResumeSession"], Resource: `arn:${v.partition}:ssm:${v.region}:${v.accountId}:session/*` },
    {
      Sid: "PassInstanceRoleOnly",
      Effect: "Allow",
      Action: "iam:PassRole",
      Resource: v.instanceRoleArn,
      Condition: { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } },
    },
  ];
  statements.push(...jobStatements(v));
  if (v.kmsKeyArn) {
    statements.push({
      Sid: "VolumeKey",
      Effect: "Allow",
      Action: ["kms:CreateGrant", "kms:GenerateDataKeyWithoutPlaintext", "kms:Decrypt", "kms:DescribeKey", "kms:ReEncrypt*"],
      Resource: v.kmsKeyArn,
      Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } },
    });
  }
  if (v.eventsQueueArn) {
    statements.push({
      Sid: "EventsQueue",
      Effect: "Allow",
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
      Resource: v.eventsQueueArn,
    });
  }
  return { Version: "2012-10-17", Statement: statements };
}

/**
 * The instance role: only what the SSM agent needs for Run Command and Session Manager (register
 * and report, the ec2messages and ssmmessages channels). Unlike AmazonSSMManagedInstanceCore it
 * has no ssm:GetParameter(s) on every parameter, no GetDocument, no inventory or patching.
 */
export function instancePolicyDocument(v: InstancePolicyVars): IamPolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "AgentRegistration",
        Effect: "Allow",
        Action: ["ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations"],
        // As in AWS's own custom-profile example: scoping these to tagged instances is not documented to work.
        Resource: "*",
      },
      {
        Sid: "RunCommandChannel",
        Effect: "Allow",
        Action: ["ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage", "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply"],
        // ec2messages has no resource-level permissions.
        Resource: "*",
      },
      {
        Sid: "SessionChannel",
        Effect: "Allow",
        Action: ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"],
        Resource: "*",
      },
      // Jobs' Run Command output to CloudWatch (the agent writes it): only into the given groups.
      ...(v.jobLogGroups?.length
        ? [
            { Sid: "JobOutputToLogs", Effect: "Allow" as const, Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], Resource: v.jobLogGroups.map((g) => logStreamsArn(v, g).replace(/:log-stream:\*$/, ":*")) },
            // The agent checks that the group exists; DescribeLogGroups takes no narrower resource.
            { Sid: "JobOutputGroupCheck", Effect: "Allow" as const, Action: "logs:DescribeLogGroups", Resource: "*" },
          ]
        : []),
    ],
  };
}

/** The instance role's trust policy. */
export function instanceTrustPolicyDocument(): { Version: "2012-10-17"; Statement: Array<Record<string, unknown>> } {
  return {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
  };
}
