/**
 * Which job runner a pool gets: the AWS runners only when the provider is EC2 or a purpose runs
 * its jobs on ECS (their SDKs load only then), EC2 jobs over the provider's own SSM client, and
 * the ECS runner per purpose from its `jobs.ecs` settings.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SSMClient } from "@aws-sdk/client-ssm";
import { purposeSchema } from "../../../backend/config/schema";
import { awsJobRunnerHooks } from "../../../backend/jobs/runners/aws-hooks";
import { createJobRunners, needsAwsJobRunners } from "../../../backend/jobs/runners";
import type { Provider } from "../../../backend/providers/types";

const local = { kind: "local" } as unknown as Provider;
const purpose = (jobs: Record<string, unknown> = {}) => purposeSchema.parse({ name: "p", jobs });
const ecsPurpose = purpose({ runner: "ecs", ecs: { cluster: "c", taskDefinition: "td:1", container: "r" } });
const config = (purposes = [purpose()]) => ({ region: "us-east-1", purposes, jobsLogGroup: null }) as never;

test("a local pool without ECS purposes needs no AWS runner", () => {
  assert.equal(needsAwsJobRunners(local, { purposes: [purpose()] }), false);
  assert.equal(needsAwsJobRunners(local, { purposes: [purpose(), ecsPurpose] }), true);
  assert.equal(needsAwsJobRunners({ kind: "ec2" } as unknown as Provider, { purposes: [purpose()] }), true);
});

test("EC2 jobs run over the provider's SSM client, ECS jobs on the purpose's cluster", () => {
  const ssm = new SSMClient({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" } });
  const ec2 = { kind: "ec2", clients: { ssm } } as unknown as Provider;
  const runners = createJobRunners(ec2, "/tmp/unused", awsJobRunnerHooks(ec2, config([purpose(), ecsPurpose])));
  assert.equal(runners.forPurpose(purpose()).kind, "ec2-ssm");
  assert.equal(runners.forPurpose(ecsPurpose).kind, "ecs");
  assert.ok(runners.probe(), "the EC2 runner is the keep-alive probe");
  ssm.destroy();
});

test("without the hooks, an ECS purpose is refused with a clear error", () => {
  const runners = createJobRunners(local, "/tmp/unused");
  assert.throws(() => runners.forPurpose(ecsPurpose), /no such job runner wired/);
});
