/**
 * The standard endpoint variables, read by the SDK itself: with AWS_ENDPOINT_URL_EC2 and
 * AWS_ENDPOINT_URL_SSM set (and no endpoint option), the provider's clients talk to the fake
 * server, credentials come from the default chain (here the environment's fake keys), and the
 * SSM endpoint handed to session-manager-plugin is the same.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createAwsClients } from "../../../backend/providers/ec2/clients";
import { Ec2Provider } from "../../../backend/providers/ec2/provider";
import { ec2PurposeConfig } from "../../support/aws/builders";
import { startFakeAws, type FakeAws } from "../../support/aws/fake-aws-server";

let fake: FakeAws;
before(async () => {
  fake = await startFakeAws();
  Object.assign(process.env, { AWS_ENDPOINT_URL_EC2: fake.url, AWS_ENDPOINT_URL_SSM: fake.url, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" });
  delete process.env.AWS_PROFILE;
});
after(() => fake.close());

test("AWS_ENDPOINT_URL_EC2 / _SSM are honoured by the SDK without an endpoint option", async () => {
  const clients = createAwsClients({ region: "us-east-1" });
  assert.equal(clients.ssmEndpoint, fake.url);
  const provider = new Ec2Provider({ region: "us-east-1", poolName: "env-pool", clients, pollMs: 5 });
  const res = await provider.launch({ instanceId: "rsp-00000000000e0001", purpose: ec2PurposeConfig(), poolName: "env-pool", ownerId: null });
  assert.ok(fake.world.instances.has(res.providerId));
  assert.equal((await provider.list("env-pool")).length, 1);
  // The first describe sends the readiness check on the instance, the next reads its answer.
  let ready = false;
  for (let i = 0; i < 5 && !ready; i++) ready = (await provider.describe([res.providerId]))[0]!.ready;
  assert.equal(ready, true, "running, the agent online and RStudio answering (SSM through its variable)");
  assert.ok(fake.world.callsOf("DescribeInstanceInformation").length >= 1);
  await provider.close();
});
