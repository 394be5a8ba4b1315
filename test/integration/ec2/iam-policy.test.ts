/**
 * The backend's IAM policy (backend/providers/ec2/iam-policy.ts) against what the provider
 * really sends: the fake AWS server enforces the policy on every call (with the request
 * context IAM would see) while the real provider launches, hands over, connects, checks, releases
 * and terminates. Every SDK command class in backend/providers/ec2 must be in the policy's list
 * and must have been sent (and allowed) here. And what must stay forbidden is checked.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { API_CALLS, backendPolicyDocument, instancePolicyDocument, type IamPolicyDocument } from "../../../backend/providers/ec2/iam-policy";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { createEc2SsmRunner } from "../../../backend/jobs/runners/ec2-ssm";
import { ec2PurposeConfig, fakeProvider } from "../../support/aws/builders";
import { startFakeAws, TEST_CREDENTIALS, type FakeAws } from "../../support/aws/fake-aws-server";
import { isAllowed, type AuthRequest } from "../../support/aws/iam-eval";
import { authRequestsFor, policyAuthorizer, TEST_ACCOUNT } from "../../support/aws/iam-requests";

const ROLE = `arn:aws:iam::${TEST_ACCOUNT}:role/rstudio-pool-instance`;
const JOB_LOGS = "/rstudio-pool/jobs";
const policy = backendPolicyDocument({ partition: "aws", region: "us-east-1", accountId: TEST_ACCOUNT, poolName: "test-pool", instanceRoleArn: ROLE, instanceTypes: ["t3.large", "m5.large"], jobs: { ssmLogGroups: [JOB_LOGS] } });

let fake: FakeAws;
let auth: ReturnType<typeof policyAuthorizer>;
before(async () => {
  fake = await startFakeAws();
  auth = policyAuthorizer(policy);
  fake.world.authorize = auth.authorize;
});
after(() => fake.close());

/** The SDK command classes the provider's code (and the AWS job runners') constructs. */
function commandsInCode(): string[] {
  const found = new Set<string>();
  for (const rel of ["backend/providers/ec2", "backend/jobs/runners"]) {
    const dir = path.join(__dirname, "../../..", rel);
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
      for (const m of readFileSync(path.join(dir, f), "utf8").matchAll(/new (\w+)Command\(/g)) found.add(`${m[1]}Command`);
    }
  }
  return [...found].sort();
}

const denials = () => fake.world.calls.filter((c) => c.error === "UnauthorizedOperation" || c.error === "AccessDeniedException");

async function untilReady(provider: ReturnType<typeof fakeProvider>, providerId: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    if ((await provider.describe([providerId]))[0]?.ready) return;
  }
  throw new Error(`${providerId} never became ready`);
}

test("every call of the provider's flows is allowed by the generated policy, and every command in the code was sent", async () => {
  const provider = fakeProvider(fake);
  const spot = ec2PurposeConfig({ name: "spotty", ec2: { market: "spot", busyCheck: { enabled: true, cpuThreshold: 25, extendSeconds: 600 } } });
  const onDemand = ec2PurposeConfig({ name: "warm", ec2: { busyCheck: { enabled: true, cpuThreshold: 25, extendSeconds: 600 } } });

  // An owned spot launch: the home is created in the instance's zone and attached once it runs.
  const owned = await provider.launch({ instanceId: "rsp-000000000000iam1", purpose: spot, poolName: "test-pool", ownerId: "alice" });
  await untilReady(provider, owned.providerId);
  // A warm on-demand launch handed to bob: Owner/HomeVolume tags, home attached and mounted.
  const warm = await provider.launch({ instanceId: "rsp-000000000000iam2", purpose: onDemand, poolName: "test-pool", ownerId: null });
  await untilReady(provider, warm.providerId);
  const ref = { id: "rsp-000000000000iam2", providerId: warm.providerId, purpose: "warm", ownerId: "bob", availabilityZone: warm.availabilityZone, instanceType: warm.instanceType, market: warm.market, details: {} };
  await provider.assign(ref, "bob", onDemand);
  const conn = await provider.connect(ref, onDemand, { userId: "bob", localPort: 18787 });
  // The native client's resume of that session (through the backend's owner-only route).
  if (conn.kind === "ssm") await provider.resumeSession(ref, conn.sessionId);
  await provider.isBusy(ref, onDemand);
  await provider.release(ref, onDemand);
  await provider.list("test-pool");
  await provider.priceOf(spot);
  await provider.terminate([ref, { ...ref, id: "rsp-000000000000iam1", providerId: owned.providerId }]);
  fake.world.advance();

  // Alice's home zone has no capacity; after the (zero) wait her next instance goes elsewhere and the home moves.
  const homeZone = fake.world.volumes.get(fake.world.instances.get(owned.providerId)!.tags.HomeVolume!)!.zone;
  fake.world.noCapacity.add(`*@${homeZone}`);
  const moving = ec2PurposeConfig({ name: "spotty", ec2: { market: "spot", homeMoveAfterSeconds: 0 } });
  await provider.launch({ instanceId: "rsp-000000000000iam3", purpose: moving, poolName: "test-pool", ownerId: "alice" }).catch(() => null);
  const moved = await provider.launch({ instanceId: "rsp-000000000000iam3", purpose: moving, poolName: "test-pool", ownerId: "alice" });
  assert.notEqual(moved.availabilityZone, homeZone);
  await untilReady(provider, moved.providerId);
  fake.world.noCapacity.clear();
  // No subnets configured: the default VPC's default subnets.
  await provider.launch({ instanceId: "rsp-000000000000iam4", purpose: ec2PurposeConfig({ name: "legacy", ec2: { subnetIds: [] } }), poolName: "test-pool", ownerId: null });

  // An EC2 job: Run Command with its output to CloudWatch, its state and log, and its cancel.
  const jobs = createEc2SsmRunner({ ssm: provider.clients.ssm, logs: new CloudWatchLogsClient({ region: "us-east-1", endpoint: fake.url, credentials: TEST_CREDENTIALS, maxAttempts: 1 }), logGroup: JOB_LOGS });
  const jobSpec = { jobId: "job-iam", userId: "bob", purpose: "warm", script: 'cat("hi")', scriptName: "model.R", command: null, args: [], env: {}, files: [], maxRuntimeSeconds: 600 };
  const jobTarget = { instanceId: "rsp-000000000000iam4", providerId: moved.providerId };
  const jobRef = await jobs.start(jobSpec, jobTarget);
  await jobs.status(jobSpec, jobRef, jobTarget);
  await jobs.readLog(jobSpec, jobRef, jobTarget, 0);
  await jobs.cancel(jobSpec, jobRef, jobTarget);

  assert.deepEqual(denials().map((c) => `${c.action}: ${JSON.stringify(c.params).slice(0, 200)}`), [], "no call was denied");
  const sent = new Set(fake.world.calls.map((c) => `${c.service}:${c.action}`));
  const listed = new Map(API_CALLS.filter((c) => c.command).map((c) => [c.command!, c.action]));
  // The events queue's calls go to SQS, which the fake does not serve (they run against moto's
  // SQS in instance-events-sqs.test.ts): the policy must allow them on that queue, and only there.
  const queueArn = "arn:aws:sqs:us-east-1:123456789012:test-pool-events";
  const withQueue = backendPolicyDocument({ partition: "aws", region: "us-east-1", accountId: "123456789012", poolName: "test-pool", instanceRoleArn: ROLE, eventsQueueArn: queueArn });
  for (const cmd of commandsInCode()) {
    assert.ok(listed.has(cmd), `${cmd} is used in backend/providers/ec2 but missing from API_CALLS in iam-policy.ts`);
    const action = listed.get(cmd)!;
    if (action.startsWith("ecs:")) {
      // The fake does not serve ECS (the runner runs against moto's in ecs-runner-moto.test.ts): the policy must allow it on the purpose's cluster, and only there.
      assertEcsScoped(action);
      continue;
    }
    if (action.startsWith("sqs:")) {
      assert.ok(isAllowed(withQueue, { action, resource: queueArn, context: {} }), `${action} on the events queue`);
      assert.ok(!isAllowed(withQueue, { action, resource: "arn:aws:sqs:us-east-1:123456789012:other", context: {} }), `${action} on another queue is refused`);
      continue;
    }
    assert.ok(sent.has(action), `${cmd} (${action}) is in the code but no test flow here sent it through the policy check`);
  }
  assert.ok(auth.checked.some((r) => r.resource.includes("spot-instances-request")), "the spot launch was authorized on its spot request");
  assert.ok(auth.checked.some((r) => r.action === "iam:PassRole" && r.resource === ROLE));
  await provider.close();
});

const ECS_CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/r-jobs";
const ECS_ROLE = "arn:aws:iam::123456789012:role/r-jobs-task";
const withEcs = () =>
  backendPolicyDocument({
    partition: "aws",
    region: "us-east-1",
    accountId: "123456789012",
    poolName: "test-pool",
    instanceRoleArn: ROLE,
    jobs: { ecs: [{ cluster: "r-jobs", taskDefinition: "r-model", logGroup: "/ecs/r-jobs", passRoleArns: [ECS_ROLE] }] },
  });

function assertEcsScoped(action: string): void {
  const doc = withEcs();
  const task = "arn:aws:ecs:us-east-1:123456789012:task/r-jobs/0123456789abcdef";
  const resource = action === "ecs:RunTask" ? "arn:aws:ecs:us-east-1:123456789012:task-definition/r-model:7" : task;
  assert.ok(isAllowed(doc, { action, resource, context: { "ecs:cluster": ECS_CLUSTER } }), `${action} on the purpose's cluster`);
  const otherCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/prod-services";
  const otherResource = action === "ecs:RunTask" ? resource : "arn:aws:ecs:us-east-1:123456789012:task/prod-services/0123456789abcdef";
  assert.ok(!isAllowed(doc, { action, resource: otherResource, context: { "ecs:cluster": otherCluster } }), `${action} on another cluster is refused`);
  assert.ok(!isAllowed(policy, { action, resource, context: { "ecs:cluster": ECS_CLUSTER } }), `${action} is absent from a policy without ECS purposes`);
}

test("jobs on ECS: the task definition on its cluster, its roles passed to ECS tasks only, its logs, nothing else", () => {
  const doc = withEcs();
  const ok = (r: AuthRequest) => isAllowed(doc, r);
  assert.ok(!ok({ action: "ecs:RunTask", resource: "arn:aws:ecs:us-east-1:123456789012:task-definition/other-family:1", context: { "ecs:cluster": ECS_CLUSTER } }), "another task definition");
  assert.ok(ok({ action: "ecs:TagResource", resource: "arn:aws:ecs:us-east-1:123456789012:task/r-jobs/abc", context: { "ecs:CreateAction": "RunTask" } }));
  assert.ok(!ok({ action: "ecs:TagResource", resource: "arn:aws:ecs:us-east-1:123456789012:task/r-jobs/abc", context: {} }), "no tagging outside RunTask");
  assert.ok(ok({ action: "iam:PassRole", resource: ECS_ROLE, context: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } }));
  assert.ok(!ok({ action: "iam:PassRole", resource: ECS_ROLE, context: { "iam:PassedToService": "ec2.amazonaws.com" } }));
  assert.ok(!ok({ action: "iam:PassRole", resource: "arn:aws:iam::123456789012:role/admin", context: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } }));
  assert.ok(ok({ action: "logs:GetLogEvents", resource: "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/r-jobs:log-stream:jobs/r/abc", context: {} }));
  assert.ok(!ok({ action: "logs:GetLogEvents", resource: "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/payroll:log-stream:x", context: {} }));
  assert.ok(!JSON.stringify(policy).includes("ecs:"), "no ECS statement without an ECS purpose");
  const inst = instancePolicyDocument({ partition: "aws", region: "us-east-1", accountId: "123456789012", poolName: "p", jobLogGroups: [JOB_LOGS] });
  assert.ok(isAllowed(inst, { action: "logs:PutLogEvents", resource: `arn:aws:logs:us-east-1:123456789012:log-group:${JOB_LOGS}:log-stream:cmd/i-1/aws-runShellScript/stdout`, context: {} }));
  assert.ok(!isAllowed(inst, { action: "logs:PutLogEvents", resource: "arn:aws:logs:us-east-1:123456789012:log-group:/other:log-stream:x", context: {} }));
});

/** The policy of docs/aws.md before this change, kept to show the test fails on it. */
const OLD_DOC_LAUNCH: IamPolicyDocument = {
  Version: "2012-10-17",
  Statement: [
    { Sid: "LaunchTaggedOnly", Effect: "Allow", Action: ["ec2:RunInstances"], Resource: ["arn:aws:ec2:us-east-1:123456789012:instance/*", "arn:aws:ec2:us-east-1:123456789012:volume/*"], Condition: { StringEquals: { "aws:RequestTag/Pool": "test-pool" } } },
    { Sid: "LaunchWith", Effect: "Allow", Action: "ec2:RunInstances", Resource: ["arn:aws:ec2:us-east-1::image/*", "arn:aws:ec2:us-east-1:123456789012:subnet/*", "arn:aws:ec2:us-east-1:123456789012:network-interface/*", "arn:aws:ec2:us-east-1:123456789012:security-group/*"] },
  ],
};

test("what must stay forbidden is forbidden", () => {
  const instanceArn = "arn:aws:ec2:us-east-1:123456789012:instance/*";
  const launchCtx = { "aws:RequestTag/Pool": "test-pool", "ec2:MetadataHttpTokens": "required", "ec2:MetadataHttpPutResponseHopLimit": "1", "ec2:InstanceMetadataTags": "disabled", "ec2:InstanceType": "t3.large", "ec2:InstanceProfile": "arn:aws:iam::123456789012:instance-profile/rstudio-pool-instance" };
  const allowed = (r: AuthRequest) => isAllowed(policy, r);
  assert.ok(allowed({ action: "ec2:RunInstances", resource: instanceArn, context: launchCtx }));
  assert.ok(!isAllowed(OLD_DOC_LAUNCH, { action: "ec2:RunInstances", resource: "arn:aws:ec2:us-east-1:123456789012:spot-instances-request/*", context: {} }), "the old documented policy broke spot launches");
  assert.ok(allowed({ action: "ec2:RunInstances", resource: "arn:aws:ec2:us-east-1:123456789012:spot-instances-request/*", context: {} }));
  assert.ok(!allowed({ action: "ec2:RunInstances", resource: instanceArn, context: { ...launchCtx, "ec2:MetadataHttpTokens": "optional" } }), "IMDSv1 refused");
  assert.ok(!allowed({ action: "ec2:RunInstances", resource: instanceArn, context: { ...launchCtx, "ec2:MetadataHttpPutResponseHopLimit": "3" } }), "hop limit over 2 refused");
  assert.ok(!allowed({ action: "ec2:RunInstances", resource: instanceArn, context: { ...launchCtx, "ec2:InstanceType": "p5.48xlarge" } }), "unlisted type refused");
  assert.ok(!allowed({ action: "ec2:RunInstances", resource: instanceArn, context: { ...launchCtx, "ec2:InstanceProfile": "arn:aws:iam::123456789012:instance-profile/admin" } }), "other profile refused");
  assert.ok(!allowed({ action: "ec2:RunInstances", resource: instanceArn, context: { ...launchCtx, "aws:RequestTag/Pool": "other" } }), "launch outside the pool refused");
  assert.ok(!allowed({ action: "ec2:RunInstances", resource: "arn:aws:ec2:us-east-1:123456789012:volume/*", context: { "ec2:Encrypted": "false" } }), "unencrypted root refused");
  assert.ok(!allowed({ action: "ec2:CreateVolume", resource: "arn:aws:ec2:us-east-1:123456789012:volume/*", context: { "aws:RequestTag/Pool": "test-pool", "ec2:Encrypted": "false" } }), "unencrypted home refused");
  assert.ok(!allowed({ action: "iam:PassRole", resource: "arn:aws:iam::123456789012:role/admin", context: { "iam:PassedToService": "ec2.amazonaws.com" } }));
  const poolInstance = { "aws:ResourceTag/Pool": "test-pool" };
  const tagOn = (keys: Record<string, string>) => ({ action: "ec2:CreateTags", resource: "arn:aws:ec2:us-east-1:123456789012:instance/i-1", context: { ...poolInstance, "aws:TagKeys": Object.keys(keys) } });
  assert.ok(allowed(tagOn({ Owner: "bob" })));
  assert.ok(!allowed(tagOn({ Pool: "other-pool" })), "CreateTags cannot rewrite Pool");
  assert.ok(!allowed(tagOn({ Owner: "bob", Pool: "x" })), "not even together with an allowed key");
  assert.ok(!allowed({ ...tagOn({ Owner: "bob" }), context: { "aws:ResourceTag/Pool": "other-pool", "aws:TagKeys": ["Owner"] } }), "no tags on other pools' instances");
  assert.ok(!allowed({ action: "ec2:CreateTags", resource: "arn:aws:ec2:us-east-1:123456789012:instance/i-1", context: { "aws:TagKeys": ["Pool"], "aws:RequestTag/Pool": "test-pool" } }), "no adopting foreign instances by tagging them");
  assert.ok(!allowed({ action: "ec2:TerminateInstances", resource: "arn:aws:ec2:us-east-1:123456789012:instance/i-2", context: { "aws:ResourceTag/Pool": "prod" } }));
  // No shell sessions: a StartSession without a document is checked against the default shell document.
  const shell = authRequestsFor("ssm", "StartSession", { Target: "i-1" }, fake.world, "us-east-1");
  assert.ok(!shell.every(allowed), "a shell session is refused");
  assert.ok(!allowed({ action: "ssm:StartSession", resource: "arn:aws:ssm:us-east-1::document/AWS-StartInteractiveCommand", context: {} }));
  assert.ok(!allowed({ action: "ssm:SendCommand", resource: "arn:aws:ec2:us-east-1:123456789012:instance/i-3", context: { "ssm:resourceTag/Pool": "prod" } }));
});

test("placeholders pass through unchanged (the deploy templates render the policy with them)", () => {
  const doc = backendPolicyDocument({ partition: "${partition}", region: "${region}", accountId: "${account_id}", poolName: "${pool_name}", instanceRoleArn: "${instance_role_arn}" });
  const text = JSON.stringify(doc);
  assert.match(text, /arn:\$\{partition\}:ec2:\$\{region\}:\$\{account_id\}:instance\/\*/);
  assert.match(text, /"aws:RequestTag\/Pool":"\$\{pool_name\}"/);
  assert.match(text, /"Resource":"\$\{instance_role_arn\}"/);
  const inst = JSON.stringify(instancePolicyDocument({ partition: "${partition}", region: "${region}", accountId: "${account_id}", poolName: "${pool_name}" }));
  assert.doesNotMatch(inst, /ssm:GetParameter/, "the instance role reads no parameters");
  assert.match(inst, /ssmmessages:OpenDataChannel/);
});

test("docs/aws.md shows the generated policy (it cannot drift from the code)", () => {
  const doc = readFileSync(path.join(__dirname, "../../../docs/aws.md"), "utf8");
  const rendered = JSON.stringify(
    backendPolicyDocument({ partition: "aws", region: "REGION", accountId: "ACCOUNT", poolName: "POOL", instanceRoleArn: "arn:aws:iam::ACCOUNT:role/rstudio-pool-instance", instanceTypes: ["m6i.large", "m5.large", "t3.large"] }),
    null,
    2,
  );
  assert.ok(doc.includes(rendered), "regenerate the example in docs/aws.md (IAM policy section)");
  for (const c of API_CALLS) assert.ok(doc.includes(`\`${c.action}\``), `${c.action} is not in the docs' table`);
});
