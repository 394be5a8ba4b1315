import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "../../backend/config/load";
import { PoolError } from "../../backend/errors";
import { tempDir } from "../support/builders";

function rejects(env: Record<string, string>, pattern: RegExp): void {
  assert.throws(
    () => loadConfig(env, "/tmp"),
    (e: unknown) => e instanceof PoolError && e.code === "INVALID_CONFIG" && pattern.test(e.message),
  );
}

function yamlFile(text: string): string {
  const file = path.join(tempDir("cfg-"), "pool.yaml");
  writeFileSync(file, text);
  return file;
}

describe("configuration", () => {
  it("has working defaults: local provider, SQLite in ./.rstudio-pool, port 8080, one rstudio purpose", () => {
    const c = loadConfig({}, "/srv/app");
    assert.equal(c.provider, "local");
    assert.equal(c.port, 8080);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.dataDir, "/srv/app/.rstudio-pool");
    assert.equal(c.databaseUrl, null);
    assert.equal(c.local.runtime, "auto");
    assert.deepEqual(c.purposes.map((p) => [p.name, p.servicePort, p.minFree, p.max, p.idleTimeoutSeconds]), [["rstudio", 8787, 0, 10, 3600]]);
  });

  it("reads the old service's variables", () => {
    const c = loadConfig({
      MIN_FREE_INSTANCES: "2",
      MAX_INSTANCES: "7",
      TIMEOUT_INSTANCE: "900000",
      ARENA_POOL_SERVICE_KEY: "k1",
      PROXY_KEY: "k2",
      IMAGE_ID: "ami-0123456789abcdef0",
      IMAGE_TYPE: "t3.xlarge",
      REGION: "eu-west-1",
      SECURITY_GROUP: "sg-0abc",
      INSTANCE_PROFILE: "rstudio-instance",
      KEY_NAME: "ops",
      PORT: "9000",
      POOL_PROVIDER: "ec2",
      SUBNET_IDS: "subnet-0a1,subnet-0b2",
    });
    const p = c.purposes[0]!;
    assert.equal(p.minFree, 2);
    assert.equal(p.max, 7);
    assert.equal(p.idleTimeoutSeconds, 900);
    assert.equal(c.appKey, "k1");
    assert.equal(c.proxyKey, "k2");
    assert.equal(c.region, "eu-west-1");
    assert.equal(c.port, 9000);
    assert.equal(c.maxInstances, 7);
    assert.equal(p.ec2?.imageId, "ami-0123456789abcdef0");
    assert.deepEqual(p.ec2?.instanceTypes, ["t3.xlarge"]);
    assert.deepEqual(p.ec2?.securityGroupIds, ["sg-0abc"]);
    assert.equal(p.ec2?.instanceProfile, "rstudio-instance");
    assert.equal(p.ec2?.keyName, "ops");
    assert.deepEqual(p.ec2?.subnetIds, ["subnet-0a1", "subnet-0b2"]);
  });

  it("reads purposes from YAML", () => {
    const file = yamlFile(`
pool: { name: team-pool, maxInstances: 12 }
purposes:
  - name: rstudio
    description: Everyday R
    minFree: 1
    max: 8
    idleTimeoutSeconds: 1800
    maxLifetimeSeconds: 43200
    hourlyPrice: 0.1
  - name: big-memory
    description: 64 GB for large models
    max: 2
    ec2:
      imageId: ami-0123456789abcdef0
      instanceTypes: [r6i.2xlarge, r5.2xlarge]
      market: spot
      homeVolumeGiB: 100
`);
    const c = loadConfig({ POOL_CONFIG: file });
    assert.equal(c.poolName, "team-pool");
    assert.equal(c.maxInstances, 12);
    assert.deepEqual(c.purposes.map((p) => p.name), ["rstudio", "big-memory"]);
    assert.equal(c.purposes[1]!.ec2?.market, "spot");
    assert.deepEqual(c.purposes[1]!.ec2?.instanceTypes, ["r6i.2xlarge", "r5.2xlarge"]);
  });

  it("accepts the old service's variables without a subnet list (the provider then uses the default VPC)", () => {
    const c = loadConfig({ POOL_PROVIDER: "ec2", IMAGE_ID: "ami-0123456789abcdef0", IMAGE_TYPE: "t3.large", SECURITY_GROUP: "sg-0123abcd", INSTANCE_PROFILE: "p", KEY_NAME: "k", REGION: "eu-west-1" });
    assert.deepEqual(c.purposes[0]!.ec2!.subnetIds, []);
  });

  it("names the field of every invalid value", () => {
    rejects({ MIN_FREE_INSTANCES: "two" }, /MIN_FREE_INSTANCES: must be a whole number/);
    rejects({ MAX_INSTANCES: "0" }, /MAX_INSTANCES: must be at least 1/);
    rejects({ POOL_PROVIDER: "gcp" }, /POOL_PROVIDER: must be one of local, ec2/);
    rejects({ POOL_LOCAL_RUNTIME: "podman" }, /POOL_LOCAL_RUNTIME/);
    rejects({ POOL_LOCAL_RUNTIME: "command" }, /POOL_LOCAL_COMMAND: required/);
    rejects({ POOL_LOCAL_COMMAND: "serve --port 1" }, /POOL_LOCAL_COMMAND: must contain \{port\}/);
    rejects({ POOL_DATABASE_URL: "mysql://x" }, /POOL_DATABASE_URL/);
    rejects({ MIN_FREE_INSTANCES: "5", MAX_INSTANCES: "2" }, /minFree: 5 is more than max 2/);
    rejects({ POOL_PROVIDER: "ec2" }, /purposes\.0\.ec2: required with POOL_PROVIDER=ec2/);
    rejects({ POOL_CONFIG: "/nonexistent/pool.yaml" }, /POOL_CONFIG: cannot read/);
    rejects({ POOL_CONFIG: yamlFile("purposes: [") }, /not valid YAML/);
    rejects({ POOL_CONFIG: yamlFile("purposes: []") }, /purposes: /);
    rejects({ POOL_CONFIG: yamlFile("purposes:\n  - name: Bad Name\n") }, /purposes\.0\.name: must be lowercase/);
    rejects({ POOL_CONFIG: yamlFile("purposes:\n  - name: a\n    max: -1\n") }, /purposes\.0\.max/);
    rejects({ POOL_CONFIG: yamlFile("purposes:\n  - name: a\n    colour: blue\n") }, /purposes\.0: .*colour/);
    rejects({ POOL_CONFIG: yamlFile("purposes:\n  - name: a\n  - name: a\n") }, /purposes\.1\.name: duplicate purpose "a"/);
    rejects({ POOL_CONFIG: yamlFile("purposes:\n  - name: a\n    ec2: { imageId: nope }\n") }, /purposes\.0\.ec2\.imageId: must be an AMI id/);
  });

  it("names every invalid environment variable instead of failing later", () => {
    rejects({ LOG_LEVEL: "verbose" }, /LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/);
    rejects({ PORT: "http" }, /PORT: must be a whole number/);
    rejects({ PORT: "70000" }, /PORT: must be at most 65535/);
    rejects({ HOST: "" }, /HOST: must not be empty/);
    rejects({ HOST: "my host" }, /HOST: must be an address/);
    rejects({ POOL_NAME: "My Pool" }, /POOL_NAME: must be lowercase/);
    rejects({ POOL_MAX_INSTANCES: "lots" }, /POOL_MAX_INSTANCES: must be a whole number/);
    rejects({ POOL_TICK_MS: "1s" }, /POOL_TICK_MS: must be a whole number/);
    rejects({ REGION: "virginia" }, /REGION: must be an AWS region/);
    rejects({ POOL_LOCAL_PASS_ENV: "R_LIBS,not a name" }, /POOL_LOCAL_PASS_ENV: "not a name" is not a variable name/);
    rejects({ POOL_PROVIDER: "ec2", IMAGE_ID: "ami-nope", SUBNET_IDS: "subnet-0a" }, /IMAGE_ID: must be an AMI id/);
    rejects({ TIMEOUT_INSTANCE: "soon" }, /TIMEOUT_INSTANCE: must be a whole number/);
  });

  it("refuses minFree above the pool's maximum, alone or added up", () => {
    rejects({ MIN_FREE_INSTANCES: "3", MAX_INSTANCES: "5", POOL_MAX_INSTANCES: "2" }, /purposes\.0\.minFree: 3 is more than the pool's POOL_MAX_INSTANCES 2/);
    rejects(
      { POOL_CONFIG: yamlFile("pool: { maxInstances: 3 }\npurposes:\n  - { name: a, minFree: 2, max: 3 }\n  - { name: b, minFree: 2, max: 3 }\n") },
      /minFree add up to 4, more than the pool's pool\.maxInstances 3/,
    );
  });
});
