/** Small typed builders for EC2 provider tests: purposes, pool configs, providers on the fake server. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { purposeSchema, type PoolConfig, type PurposeConfig } from "../../../backend/config/schema";
import { LaunchQueue } from "../../../backend/providers/ec2/launch-queue";
import { Ec2Provider, type Ec2Purpose } from "../../../backend/providers/ec2/provider";
import type { FakeAws } from "./fake-aws-server";
import type { FakeInstance, FakeWorld } from "./fake-world";

export function ec2PurposeConfig(overrides: { name?: string; ec2?: Record<string, unknown>; [k: string]: unknown } = {}): Ec2Purpose {
  const { ec2, ...rest } = overrides;
  return purposeSchema.parse({
    name: "rstudio",
    max: 50,
    costTags: { CostCenter: "research" },
    ...rest,
    ec2: {
      imageFilter: { tags: { Role: "rstudio" }, owners: ["self"] },
      instanceTypes: ["t3.large", "m5.large"],
      subnetIds: ["subnet-0a1", "subnet-0b2"],
      securityGroupIds: ["sg-0123abcd"],
      instanceProfile: "rstudio-pool-instance",
      ...ec2,
    },
  }) as Ec2Purpose;
}

export function ec2PoolConfig(purposes: PurposeConfig[], overrides: Partial<PoolConfig> = {}): PoolConfig {
  return {
    poolName: "test-pool",
    port: 0,
    host: "127.0.0.1",
    dataDir: mkdtempSync(path.join(tmpdir(), "rsp-ec2-")),
    databaseUrl: null,
    provider: "ec2",
    region: "us-east-1",
    maxInstances: 100,
    currency: "USD",
    warmPolicy: "static",
    serviceLevel: 0.95,
    appKey: null,
    proxyKey: null,
    local: { runtime: "placeholder", command: null },
    purposes,
    budgets: { users: {}, warnAt: 0.8, exceededIdleTimeoutSeconds: 600 },
    tickMs: 1000,
    reconcileMs: 60_000,
    logLevel: "silent",
    ...overrides,
  };
}

/** A provider on the fake server with a fast queue and fast polling (the budget numbers are tested apart). */
export function fakeProvider(fake: FakeAws, options: { queue?: LaunchQueue; listPageSize?: number; purposes?: PurposeConfig[]; now?: () => number } = {}): Ec2Provider {
  return new Ec2Provider({
    region: "us-east-1",
    poolName: "test-pool",
    clients: fake.clients(),
    queue: options.queue ?? new LaunchQueue({ burst: 5, refillPerSecond: 200, baseBackoffMs: 5 }),
    pollMs: 5,
    listPageSize: options.listPageSize,
    purposes: options.purposes,
    now: options.now,
  });
}

/** A running spot instance put straight into the fake world (no RunInstances), for SSM tests. */
export function runningFakeInstance(world: FakeWorld, overrides: Partial<Omit<FakeInstance, "id">> = {}): string {
  const id = world.newInstanceId();
  world.instances.set(id, {
    id,
    imageId: "ami-0aaaaaaaaaaaaaaa1",
    type: "t3.large",
    state: "running",
    stateReason: null,
    lifecycle: "spot",
    zone: "us-east-1a",
    subnetId: "subnet-0a1",
    privateDns: `ip-${id}.ec2.internal`,
    launchTime: new Date(),
    tags: {},
    clientToken: id,
    request: {},
    ssmOnline: true,
    ...overrides,
  });
  return id;
}
