/**
 * The module applied into an emulated AWS account (moto, an emulator we did not write):
 * `terraform apply`, then `terraform plan` shows no changes, then the backend, started through
 * the image's entry point with the module's outputs (its subnets, hosts security group,
 * instance profile, pool configuration, events queue), claims an instance in that account;
 * then `terraform destroy` leaves nothing. Besides, a plan with every part switched on.
 *
 * The apply goes into an existing VPC (made by the test, as most operators have one); the
 * created-VPC path (create_vpc = true) is in the full plan.
 * Parts moto cannot apply are switched off for the apply and only planned and validated:
 *   enable_image_pipeline  (moto has no EC2 Image Builder)
 *   enable_home_snapshots  (moto has no Data Lifecycle Manager)
 *   enable_backend_service (ECS, ALB, RDS, ACM, Secrets Manager, logs: moto's elbv2 answers
 *     500 to DescribeCapacityReservation, which hashicorp/aws 5.100 calls after creating a load
 *     balancer, so the apply never finishes; and RDS alone takes over two minutes to create and
 *     delete through the provider's waiters)
 * moto lacks SSM DescribeInstanceInformation and StartSession: ./support/moto-standin.ts answers
 * those two and forwards the rest to moto.
 * Skips loudly without terraform, its provider mirror or moto; fails instead under
 * TERRAFORM_REQUIRED=1, MOTO_REQUIRED=1 or CI=true.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { AssociateRouteTableCommand, CreateRouteTableCommand, CreateSubnetCommand, CreateVpcCommand, CreateTagsCommand, DeleteVolumeCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVolumesCommand, DescribeVpcEndpointsCommand, DescribeVpcsCommand, EC2Client, RegisterImageCommand } from "@aws-sdk/client-ec2";
import { backendPolicyDocument } from "../../../backend/providers/ec2/iam-policy";
import { ensureBuilt } from "../../support/cli";
import { findMoto, motoRequired, startMoto, type Moto } from "./support/moto";
import { startMotoStandIn, type MotoStandIn } from "./support/moto-standin";
import { findTerraform, terraformRequired, tf, type Terraform } from "./support/terraform";
import { copyDeploy, emulatorOverride, ROOT, writeTfvars } from "./support/workdir";

const REGION = "us-east-1";
const POOL = "tfmoto";
const ACCOUNT = "123456789012"; // moto's account

const scratch = mkdtempSync(path.join(os.tmpdir(), "deploy-moto-"));
const found = findTerraform(scratch);
const motoScript = findMoto();

let terraform: Terraform | null = null;
let moto: Moto | null = null;
let standIn: MotoStandIn | null = null;
let ec2: EC2Client;
let work: ReturnType<typeof copyDeploy>;
let outputs: Record<string, any> = {};
let applied = false;
const missing: string[] = [];
const existing = { vpc: "", subnets: [] as string[], routeTables: [] as string[] };

function need(t: TestContext): boolean {
  if (missing.length === 0) return true;
  const why = missing.join("; ");
  const required = ("missing" in found && terraformRequired()) || (motoScript === null && motoRequired());
  if (required) assert.fail(`required here (TERRAFORM_REQUIRED=1, MOTO_REQUIRED=1 or CI=true): ${why}`);
  console.warn(`\n!!! SKIPPED (Terraform against moto): ${why}. Set TERRAFORM_REQUIRED=1 / MOTO_REQUIRED=1 to make this a failure.\n`);
  t.skip(why);
  return false;
}

/** Signed-looking request to moto for services the project has no SDK client of (moto routes on the credential scope). */
async function motoCall(service: string, init: { query?: string; target?: string; body?: unknown }): Promise<any> {
  const headers: Record<string, string> = {
    authorization: `AWS4-HMAC-SHA256 Credential=test/20261201/${REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
  };
  if (init.target) {
    headers["x-amz-target"] = init.target;
    headers["content-type"] = "application/x-amz-json-1.1";
    const res = await fetch(`${moto!.url}/`, { method: "POST", headers, body: JSON.stringify(init.body ?? {}) });
    return res.json();
  }
  const res = await fetch(`${moto!.url}/?${init.query}`, { headers });
  return res.text();
}

before(async () => {
  if ("missing" in found) missing.push(found.missing);
  else terraform = found;
  if (!motoScript) missing.push("moto not found at ../shared/tools/moto-server (scripts/ci/deps/moto.sh)");
  if (missing.length) return;
  moto = await startMoto(motoScript!);
  standIn = await startMotoStandIn(moto.url, REGION);
  ec2 = new EC2Client({ region: REGION, endpoint: moto.url, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  // An existing VPC, as most operators have (create_vpc = true is in the full plan below):
  // two private subnets in two zones, each with its route table.
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.77.0.0/16" }))).Vpc!.VpcId!;
  for (const [i, zone] of ["a", "b"].entries()) {
    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `10.77.${i}.0/24`, AvailabilityZone: `${REGION}${zone}` }))).Subnet!.SubnetId!;
    const table = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpc }))).RouteTable!.RouteTableId!;
    await ec2.send(new AssociateRouteTableCommand({ RouteTableId: table, SubnetId: subnet }));
    existing.subnets.push(subnet);
    existing.routeTables.push(table);
  }
  existing.vpc = vpc;
  work = copyDeploy("deploy-moto-tf-");
  // Terraform talks to moto through the stand-in (it forwards what it does not answer itself).
  writeFileSync(path.join(work.module, "emulator_override.tf"), emulatorOverride(standIn.url));
  writeTfvars(path.join(work.module, "test.auto.tfvars.json"), {
    region: REGION,
    pool_name: POOL,
    domain_name: "pool.moto.test",
    allowed_client_cidrs: ["10.0.0.0/8"],
    create_vpc: false,
    vpc_id: existing.vpc,
    private_subnet_ids: existing.subnets,
    enable_image_pipeline: false,
    enable_home_snapshots: false,
    enable_backend_service: false,
    purpose: { min_free: 0, max: 2, instance_types: ["t3.large", "m5.large"], market: "on-demand", home_volume_gib: 5 },
  });
});

after(async () => {
  await standIn?.close();
  ec2?.destroy();
  await moto?.stop();
  work?.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

describe("deploy/terraform against moto", { concurrency: false }, () => {
  test("terraform init and apply into the emulated account", { timeout: 480_000 }, async (t) => {
    if (!need(t)) return;
    const init = await tf(terraform!, work.module, ["init", "-input=false", "-no-color"]);
    assert.equal(init.status, 0, init.stdout + init.stderr);
    const apply = await tf(terraform!, work.module, ["apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=20"], 420_000);
    assert.equal(apply.status, 0, `apply failed after ${apply.ms} ms:\n${apply.stdout.slice(-6000)}${apply.stderr}`);
    applied = true;
    const slowest = [...apply.stdout.matchAll(/^(\S+): Creation complete after (?:(\d+)m)?(\d+)s/gm)]
      .map((m) => ({ name: m[1]!, s: Number(m[2] ?? 0) * 60 + Number(m[3]) }))
      .sort((a, b) => b.s - a.s)
      .slice(0, 3);
    console.log(`terraform apply against moto: ${apply.ms} ms (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores; ${/Resources: (\d+) added/.exec(apply.stdout)?.[1]} resources; slowest ${slowest.map((x) => `${x.name} ${x.s}s`).join(", ")})`);
    const out = await tf(terraform!, work.module, ["output", "-json"]);
    outputs = Object.fromEntries(Object.entries(JSON.parse(out.stdout) as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
  });

  test("terraform plan right after shows no changes", { timeout: 180_000 }, async (t) => {
    if (!need(t)) return;
    assert.ok(applied, "apply did not succeed");
    const plan = await tf(terraform!, work.module, ["plan", "-detailed-exitcode", "-input=false", "-no-color", "-parallelism=20"], 150_000);
    assert.equal(plan.status, 0, `plan wants changes (exit ${plan.status}):\n${plan.stdout.slice(-6000)}${plan.stderr}`);
    assert.match(plan.stdout, /No changes/);
  });

  test("what was made: private subnets, a hosts group without inbound rules, endpoints, the provider's policy", async (t) => {
    if (!need(t)) return;
    assert.ok(applied, "apply did not succeed");
    const subnets = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: outputs.private_subnet_ids }))).Subnets ?? [];
    assert.equal(subnets.length, 2);
    assert.ok(subnets.every((s) => s.MapPublicIpOnLaunch === false));
    const sg = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [outputs.hosts_security_group_id] }))).SecurityGroups![0]!;
    assert.deepEqual(sg.IpPermissions ?? [], [], "the hosts' security group has no inbound rule");
    const endpoints = (await ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: "vpc-id", Values: [outputs.vpc_id] }] }))).VpcEndpoints ?? [];
    const names = endpoints.map((e) => `${e.VpcEndpointType}:${e.ServiceName!.replace(`com.amazonaws.${REGION}.`, "")}`).sort();
    assert.deepEqual(names, ["Gateway:s3", "Interface:ec2messages", "Interface:logs", "Interface:ssm", "Interface:ssmmessages"]);

    // The inline policy IAM holds is the provider's own document for these values.
    const xml = await motoCall("iam", { query: `Action=GetRolePolicy&Version=2010-05-08&RoleName=${outputs.backend_role_name}&PolicyName=pool` });
    const doc = /<PolicyDocument>([\s\S]*?)<\/PolicyDocument>/.exec(xml)?.[1];
    assert.ok(doc, xml);
    const decoded = JSON.parse(decodeURIComponent(doc!.replace(/&quot;/g, '"').replace(/&amp;/g, "&")));
    assert.deepEqual(
      decoded,
      backendPolicyDocument({
        partition: "aws",
        region: REGION,
        accountId: ACCOUNT,
        poolName: POOL,
        instanceRoleArn: outputs.instance_role_arn,
        instanceProfileArn: `arn:aws:iam::${ACCOUNT}:instance-profile/${outputs.instance_profile_name}`,
        instanceTypes: ["t3.large", "m5.large"],
      }),
    );
    const rules = await motoCall("events", { target: "AWSEvents.ListRules", body: { NamePrefix: `rsp-${POOL}-` } });
    assert.deepEqual(rules.Rules.map((r: { Name: string }) => r.Name).sort(), [`rsp-${POOL}-rebalance`, `rsp-${POOL}-spot-interruption`, `rsp-${POOL}-state-change`]);
  });

  test("the backend, started with the module's outputs through the image's entry point, claims an instance", { timeout: 180_000 }, async (t) => {
    if (!need(t)) return;
    assert.ok(applied, "apply did not succeed");
    ensureBuilt();
    // The pipeline's AMI (Image Builder is not in moto): tagged as the distribution tags it.
    const image = await ec2.send(new RegisterImageCommand({ Name: "rsp-tfmoto-rstudio-2026-12-01", RootDeviceName: "/dev/sda1", Architecture: "x86_64", VirtualizationType: "hvm" }));
    await ec2.send(new CreateTagsCommand({ Resources: [image.ImageId!], Tags: Object.entries(outputs.image_filter.tags as Record<string, string>).map(([Key, Value]) => ({ Key, Value })) }));

    const dataDir = mkdtempSync(path.join(scratch, "data-"));
    const env: Record<string, string> = {
      ...(outputs.backend_environment as Record<string, string>),
      HOST: "127.0.0.1",
      PORT: "0",
      POOL_DATA_DIR: dataDir,
      POOL_TICK_MS: "200",
      POOL_RECONCILE_MS: "1000",
      AWS_ENDPOINT_URL_EC2: moto!.url,
      AWS_ENDPOINT_URL_SSM: standIn!.url,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_PROFILE: "",
    };
    // backend_environment is the tasks' environment (ECS adds only POOL_DATABASE_URL); its
    // POOL_CONFIG_YAML is the module's pool_config_yaml output.
    assert.equal(env.POOL_CONFIG_YAML, outputs.pool_config_yaml);
    assert.equal(env.POOL_EVENTS_QUEUE_URL, outputs.events_queue_url);
    const entry = path.join(ROOT, "deploy", "docker", "docker-entrypoint.sh");
    const add = spawnSync("sh", [entry, "user", "add", "alice"], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
    assert.equal(add.status, 0, add.stderr);
    const token = add.stdout.trim();

    const server = await serve(entry, env);
    try {
      const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const claim = await fetch(`${server.url}/v1/claims`, { method: "POST", headers: auth, body: JSON.stringify({ purpose: "rstudio" }) });
      const claimed = (await claim.json()) as any;
      assert.equal(claim.status, 201, JSON.stringify(claimed));
      const id = claimed.instance.instanceId as string;
      let view: any;
      for (let i = 0; i < 150; i++) {
        view = ((await (await fetch(`${server.url}/v1/instances/${id}`, { headers: auth })).json()) as any).instance;
        if (view.state === "running" || view.state === "failed") break;
        await new Promise((r) => setTimeout(r, 400));
      }
      assert.equal(view.state, "running", `${JSON.stringify(view)}\n${server.output().slice(-4000)}`);

      const reservations = (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "tag:PoolInstanceId", Values: [id] }] }))).Reservations ?? [];
      const inst = reservations.flatMap((r) => r.Instances ?? [])[0]!;
      assert.ok(outputs.private_subnet_ids.includes(inst.SubnetId), "launched in one of the module's private subnets");
      const groups = new Set([...(inst.SecurityGroups ?? []), ...(inst.NetworkInterfaces ?? []).flatMap((n) => n.Groups ?? [])].map((g) => g.GroupId));
      assert.deepEqual([...groups], [outputs.hosts_security_group_id], "only the hosts' security group");
      assert.match(inst.IamInstanceProfile?.Arn ?? "", new RegExp(`instance-profile/${outputs.instance_profile_name}$`));
      assert.equal(inst.ImageId, image.ImageId, "the AMI found by the module's image filter");
      assert.equal(inst.MetadataOptions?.HttpTokens, "required");
      assert.equal(inst.Tags?.find((x) => x.Key === "Pool")?.Value, POOL);
      assert.equal(inst.Tags?.find((x) => x.Key === "Owner")?.Value, "alice");
      assert.ok(standIn!.calls.includes("DescribeInstanceInformation"), "readiness asked SSM (the stand-in)");

      const connection = await fetch(`${server.url}/v1/instances/${id}/connection`, { method: "POST", headers: auth, body: JSON.stringify({ localPort: 18787 }) });
      const session = (await connection.json()) as any;
      assert.equal(connection.status, 200, JSON.stringify(session));
      assert.equal(session.target, inst.InstanceId);

      const release = await fetch(`${server.url}/v1/instances/${id}`, { method: "DELETE", headers: auth });
      assert.equal(release.status, 200);
      for (let i = 0; i < 100; i++) {
        const state = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst.InstanceId!] }))).Reservations![0]!.Instances![0]!.State?.Name;
        if (state === "terminated") break;
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      await server.stop();
    }
    // Home volumes are the pool's, not Terraform's (the pool never deletes them): an operator
    // deletes them by hand when a pool is retired. The test does so before destroy.
    const homes = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: "tag:Pool", Values: [POOL] }, { Name: "tag:Role", Values: ["home"] }] }))).Volumes ?? [];
    assert.equal(homes.length, 1, "alice got a home volume");
    for (const v of homes) await ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId! })).catch(() => undefined);
  });

  test("terraform destroy leaves nothing behind", { timeout: 480_000 }, async (t) => {
    if (!need(t)) return;
    assert.ok(applied, "apply did not succeed");
    const destroy = await tf(terraform!, work.module, ["destroy", "-auto-approve", "-input=false", "-no-color", "-parallelism=20"], 420_000);
    assert.equal(destroy.status, 0, destroy.stdout.slice(-6000) + destroy.stderr);
    console.log(`terraform destroy against moto: ${destroy.ms} ms (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores)`);
    const state = await tf(terraform!, work.module, ["state", "list"]);
    assert.equal(state.stdout.trim(), "", "the state is empty");
    const vpcs = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "tag:Pool", Values: [POOL] }] }))).Vpcs ?? [];
    assert.equal(vpcs.length, 0);
    const endpoints = (await ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: "vpc-id", Values: [existing.vpc] }] }))).VpcEndpoints ?? [];
    assert.deepEqual(endpoints.filter((e) => String(e.State).toLowerCase() !== "deleted").map((e) => e.VpcEndpointId), [], "the endpoints in the operator's VPC are gone");
    const left = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: existing.subnets }))).Subnets ?? [];
    assert.equal(left.length, 2, "the operator's own subnets are left alone");
    const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: "tag:Pool", Values: [POOL] }] }))).SecurityGroups ?? [];
    assert.equal(groups.length, 0);
    const roles = await motoCall("iam", { query: "Action=ListRoles&Version=2010-05-08" });
    assert.doesNotMatch(roles, new RegExp(`<RoleName>rsp-${POOL}-`));
    assert.doesNotMatch(roles, /aws-service-role\/spot\.amazonaws\.com/, "the spot service-linked role is gone");
    const profiles = await motoCall("iam", { query: "Action=ListInstanceProfiles&Version=2010-05-08" });
    assert.doesNotMatch(profiles, new RegExp(`rsp-${POOL}-`));
    const queues = await motoCall("sqs", { target: "AmazonSQS.ListQueues", body: { QueueNamePrefix: `rsp-${POOL}` } });
    assert.deepEqual(queues.QueueUrls ?? [], []);
    const rules = await motoCall("events", { target: "AWSEvents.ListRules", body: { NamePrefix: `rsp-${POOL}-` } });
    assert.deepEqual(rules.Rules, []);
    const running = (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-state-name", Values: ["pending", "running"] }] }))).Reservations ?? [];
    assert.equal(running.length, 0, "no instance left running");
  });

  test("with every part switched on (image pipeline, snapshots, ECS/ALB/RDS), the plan is complete and consistent", { timeout: 180_000 }, async (t) => {
    if (!need(t)) return;
    const full = copyDeploy("deploy-moto-plan-");
    try {
      writeFileSync(path.join(full.module, "emulator_override.tf"), emulatorOverride(standIn!.url));
      writeTfvars(path.join(full.module, "test.auto.tfvars.json"), {
        region: REGION,
        pool_name: "tfplan",
        domain_name: "pool.moto.test",
        route53_zone_id: "Z0MOTO0000000000000000",
        allowed_client_cidrs: ["0.0.0.0/0"],
        create_vpc: true,
      });
      const init = await tf(terraform!, full.module, ["init", "-input=false", "-no-color"]);
      assert.equal(init.status, 0, init.stdout + init.stderr);
      const plan = await tf(terraform!, full.module, ["plan", "-input=false", "-no-color", "-out=plan.bin"], 150_000);
      assert.equal(plan.status, 0, plan.stdout.slice(-6000) + plan.stderr);
      const show = await tf(terraform!, full.module, ["show", "-json", "plan.bin"]);
      const types = new Set((JSON.parse(show.stdout).resource_changes as Array<{ type: string }>).map((c) => c.type));
      for (const type of ["aws_imagebuilder_image_pipeline", "aws_imagebuilder_image", "aws_imagebuilder_lifecycle_policy", "aws_imagebuilder_component", "aws_dlm_lifecycle_policy", "aws_ecs_service", "aws_lb_listener", "aws_db_instance", "aws_acm_certificate_validation", "aws_secretsmanager_secret_version", "aws_route53_record"]) {
        assert.ok(types.has(type), `the full plan creates ${type}`);
      }
      // Bad values are refused before anything is touched, naming the variable.
      const bad = await tf(terraform!, full.module, ["plan", "-input=false", "-no-color", "-var", "pool_name=Bad_Name", "-var", 'allowed_client_cidrs=["nope"]', "-var", "region=eu-west"], 150_000);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /pool_name must be 1-20 lowercase/);
      assert.match(bad.stderr, /allowed_client_cidrs must be a non-empty list of CIDR blocks/);
      assert.match(bad.stderr, /region must look like eu-west-1/);
    } finally {
      full.cleanup();
    }
  });
});

interface Served {
  child: ChildProcess;
  url: string;
  output: () => string;
  stop(): Promise<void>;
}

/** `docker-entrypoint.sh serve` from the repository root, until its "listening" log line. */
async function serve(entry: string, env: Record<string, string>): Promise<Served> {
  const child = spawn("sh", [entry, "serve"], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60_000);
    const check = () => {
      const line = out.split("\n").find((l) => l.includes('"event":"listening"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line).url);
      }
    };
    child.stdout!.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${out}`));
    });
  });
  return {
    child,
    url,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
