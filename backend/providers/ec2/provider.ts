/**
 * The EC2 provider: RStudio hosts on EC2, reached only through SSM port forwarding, with
 * users' homes on persistent EBS volumes. Each method is safe to call again (the pool replays
 * whatever was in flight after a restart): launches carry ClientTokens, volumes are created
 * with ClientTokens and found by tags, attachments and tags are checked before they are made.
 *
 * Readiness: an instance is ready when EC2 says running, its SSM agent reports Online
 * (without the agent nobody can reach RStudio, so "running" alone is not enough), and, when it
 * was launched for a user, their home volume is attached. describe() attaches that volume
 * itself once the instance runs, so the step is level-based and survives restarts.
 */
import { CreateTagsCommand, RunInstancesCommand, TerminateInstancesCommand, type Instance } from "@aws-sdk/client-ec2";
import type { Logger } from "pino";
import type { ConnectionResponse } from "../../api/contract";
import { purposeApps } from "../../config/apps";
import type { Ec2PurposeConfig, PurposeConfig } from "../../config/schema";
import { PoolError } from "../../errors";
import { silentLogger } from "../../log";
import type { ConnectRequest, InstanceRef, LaunchRequest, LaunchResult, Provider, ProviderInstance } from "../types";
import { aws, awsErrorCode, toPoolError, TRY_NEXT_TYPE_CODES } from "./aws-errors";
import { BUSY_SCRIPT, isBusyReading, parseBusyOutput } from "./busy-check";
import { createAwsClients, type AwsClientOptions, type AwsClients } from "./clients";
import { HomeVolumes, isAttachedTo, isAvailable, preferredHome } from "./home-volumes";
import { ImageResolver } from "./image-resolver";
import { describeByIds, homeVolumeOf, listPoolInstances, toProviderInstance } from "./instances";
import { launchPlan, type LaunchStep } from "./launch-plan";
import { LaunchQueue } from "./launch-queue";
import { buildRunInstancesInput } from "./launch-spec";
import { ebsGbMonth, instanceHourly, onDemandHourly, SpotPrices } from "./prices";
import { SsmOps } from "./ssm";
import { pickSubnet, SubnetDirectory } from "./subnets";
import { TAG } from "./tags";
import { userDataBase64 } from "./user-data";

export type Ec2Purpose = PurposeConfig & { ec2: Ec2PurposeConfig };

export interface Ec2ProviderOptions {
  region: string;
  poolName: string;
  /** Ready-made clients (tests); otherwise built from clientOptions and the environment. */
  clients?: AwsClients;
  clientOptions?: Partial<AwsClientOptions>;
  queue?: LaunchQueue;
  log?: Logger;
  /** Polling interval of SSM commands and volume attachments. */
  pollMs?: number;
  /** DescribeInstances page size and the most pages one reconciling pass reads. */
  listPageSize?: number;
  listMaxPages?: number;
}

export function ec2Purpose(purpose: PurposeConfig): Ec2Purpose {
  if (!purpose.ec2) throw new PoolError("INVALID_CONFIG", `Purpose "${purpose.name}" has no ec2 section; POOL_PROVIDER=ec2 needs one.`);
  return purpose as Ec2Purpose;
}

export class Ec2Provider implements Provider {
  readonly kind = "ec2";
  readonly clients: AwsClients;
  readonly queue: LaunchQueue;
  readonly images: ImageResolver;
  readonly subnets: SubnetDirectory;
  readonly homes: HomeVolumes;
  readonly ssmOps: SsmOps;
  readonly spotPrices: SpotPrices;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly listPageSize: number;
  private readonly listMaxPages: number;

  constructor(options: Ec2ProviderOptions) {
    this.clients = options.clients ?? createAwsClients({ region: options.region, ...options.clientOptions });
    this.queue = options.queue ?? new LaunchQueue();
    this.log = options.log ?? silentLogger();
    this.pollMs = options.pollMs ?? 2000;
    this.listPageSize = options.listPageSize ?? 1000;
    this.listMaxPages = options.listMaxPages ?? 20;
    this.images = new ImageResolver(this.clients.ec2);
    this.subnets = new SubnetDirectory(this.clients.ec2);
    this.homes = new HomeVolumes(this.clients.ec2, options.poolName);
    this.ssmOps = new SsmOps(this.clients.ssm, this.pollMs);
    this.spotPrices = new SpotPrices(this.clients.ec2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  // ---- launching ---------------------------------------------------------------------------

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    const purpose = ec2Purpose(req.purpose);
    const ec2 = purpose.ec2;
    const image = await this.images.resolve(ec2);
    const subnets = ec2.subnetIds.length ? await this.subnets.describe(ec2.subnetIds) : [];
    // A user's instance goes where their home volume is (the oldest free one), so it can be attached.
    let zone: string | null = null;
    if (req.ownerId && ec2.homeVolumes && subnets.length) {
      const home = preferredHome(await this.homes.find(purpose.name, req.ownerId), subnets.map((s) => s.availabilityZone));
      zone = home?.availabilityZone ?? null;
    }
    const subnet = subnets.length ? pickSubnet(subnets, req.instanceId, zone) : null;
    const homeVolumeId =
      req.ownerId && ec2.homeVolumes && subnet ? (await this.homes.ensureIn(purpose, req.ownerId, subnet.availabilityZone)).volumeId : null;
    const apps = purposeApps(req.purpose);
    const userData = userDataBase64({ mode: ec2.rstudioMode, rstudioImage: ec2.rstudioImage, rPackages: ec2.rPackages, frameOrigin: ec2.frameOrigin, homeVolumeId, apps: apps.map((a) => a.app), jupyterPort: apps.find((a) => a.app === "jupyter")?.port });

    const plan = launchPlan(req.instanceId, ec2);
    const tried: string[] = [];
    for (const step of plan) {
      const input = buildRunInstancesInput({
        poolName: req.poolName,
        poolInstanceId: req.instanceId,
        purpose,
        ownerId: req.ownerId,
        step,
        image,
        subnetId: subnet?.subnetId ?? null,
        homeVolumeId,
        userDataBase64: userData,
      });
      try {
        const out = await this.queue.run(() => this.clients.ec2Launch.send(new RunInstancesCommand(input)));
        const inst = out.Instances?.[0];
        if (!inst?.InstanceId) throw new PoolError("PROVIDER_ERROR", `RunInstances for ${req.instanceId} returned no instance.`);
        return this.launchResult(purpose, inst, step, { imageId: image.imageId, subnetId: subnet?.subnetId ?? null, homeVolumeId });
      } catch (err) {
        const code = awsErrorCode(err);
        if (code === "IdempotentParameterMismatch") {
          // This step's token already launched an instance with other parameters (the
          // configuration or the newest AMI changed since): that instance is the launch.
          const found = (await listPoolInstances(this.clients.ec2, req.poolName, { pageSize: this.listPageSize, maxPages: this.listMaxPages })).instances.find(
            (i) => i.Tags?.some((t) => t.Key === TAG.poolInstanceId && t.Value === req.instanceId) && i.State?.Name !== "terminated",
          );
          if (found) return this.launchResult(purpose, found, step, { imageId: found.ImageId ?? image.imageId, subnetId: found.SubnetId ?? null, homeVolumeId });
          throw new PoolError("PROVIDER_UNAVAILABLE", `Launch ${req.instanceId} was sent before with other settings and its instance is not visible yet; the pool retries.`, { awsCode: code });
        }
        if (code && TRY_NEXT_TYPE_CODES.has(code)) {
          tried.push(`${step.instanceType} ${step.market}: ${code}`);
          this.log.warn({ event: "launch-step-failed", instanceId: req.instanceId, instanceType: step.instanceType, market: step.market, awsCode: code }, "no capacity; trying the next option");
          continue;
        }
        throw toPoolError(err, { action: "ec2:RunInstances", target: `launch ${req.instanceId} as ${step.instanceType} ${step.market}` });
      }
    }
    throw new PoolError(
      "PROVIDER_UNAVAILABLE",
      `No capacity for purpose "${purpose.name}" (tried ${tried.join("; ")}). The pool retries; add instance types or allow on-demand to make this rarer.`,
      { tried },
    );
  }

  private async launchResult(purpose: Ec2Purpose, inst: Instance, step: LaunchStep, facts: { imageId: string; subnetId: string | null; homeVolumeId: string | null }): Promise<LaunchResult> {
    const zone = inst.Placement?.AvailabilityZone ?? null;
    const market = inst.InstanceLifecycle === "spot" ? "spot" : step.market;
    const instanceType = inst.InstanceType ?? step.instanceType;
    return {
      providerId: inst.InstanceId!,
      instanceType,
      market,
      availabilityZone: zone,
      hourlyPrice: await instanceHourly(purpose, this.clients.region, this.spotPrices, instanceType, market, zone),
      details: { ...facts, launchStep: step.index, clientToken: step.clientToken },
    };
  }

  // ---- reading -----------------------------------------------------------------------------

  async list(poolName: string): Promise<ProviderInstance[]> {
    // SSM is not asked here (that would cost a call per 50 instances per pass): an adopted
    // instance starts as booting and describe() decides when it is ready.
    const { instances, complete, pages } = await listPoolInstances(this.clients.ec2, poolName, { pageSize: this.listPageSize, maxPages: this.listMaxPages });
    if (!complete) {
      // A partial list would make the reconciler take the unseen instances for lost.
      throw new PoolError("PROVIDER_UNAVAILABLE", `The pool has more instances than ${pages} DescribeInstances pages hold; raise listMaxPages.`);
    }
    return instances.filter((i) => i.InstanceId).map((i) => toProviderInstance(i, false));
  }

  async describe(providerIds: string[]): Promise<ProviderInstance[]> {
    if (providerIds.length === 0) return [];
    const instances = (await describeByIds(this.clients.ec2, providerIds)).filter((i) => i.InstanceId);
    const running = instances.filter((i) => i.State?.Name === "running");
    const online = running.length ? await this.ssmOps.onlineAgents(running.map((i) => i.InstanceId!)) : new Set<string>();
    const out: ProviderInstance[] = [];
    for (const i of instances) {
      let homeReady = true;
      if (i.State?.Name === "running") {
        const home = homeVolumeOf(i);
        if (home.volumeId && !home.attached) {
          homeReady = false;
          await this.homes.attach(home.volumeId, i.InstanceId!).catch((err: unknown) => {
            // Usually the previous instance is still letting go of it: try again next tick.
            this.log.warn({ event: "home-attach-retry", providerId: i.InstanceId, volumeId: home.volumeId, err: (err as Error).message }, "home volume not attached yet");
          });
        }
      }
      out.push(toProviderInstance(i, i.State?.Name === "running" && online.has(i.InstanceId!) && homeReady));
    }
    return out;
  }

  // ---- ending ------------------------------------------------------------------------------

  async terminate(refs: InstanceRef[]): Promise<void> {
    const ids = refs.map((r) => r.providerId).filter((id): id is string => Boolean(id));
    if (ids.length === 0) return;
    try {
      await this.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    } catch (err) {
      const code = awsErrorCode(err);
      if (code !== "InvalidInstanceID.NotFound" && code !== "InvalidInstanceID.Malformed") throw toPoolError(err, { action: "ec2:TerminateInstances", target: ids.join(",") });
      // One unknown id fails the whole call: the gone ones are done, the others are retried singly.
      if (ids.length === 1) return;
      for (const ref of refs) await this.terminate([ref]);
    }
  }

  // ---- users -------------------------------------------------------------------------------

  async assign(ref: InstanceRef, userId: string, purposeConfig: PurposeConfig): Promise<void> {
    const purpose = ec2Purpose(purposeConfig);
    const instanceId = requireProviderId(ref);
    await aws({ action: "ec2:CreateTags", target: instanceId }, () =>
      this.clients.ec2.send(new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: TAG.owner, Value: userId }] })),
    );
    if (!purpose.ec2.homeVolumes) return;
    const zone = ref.availabilityZone ?? (await describeByIds(this.clients.ec2, [instanceId]))[0]?.Placement?.AvailabilityZone;
    if (!zone) throw new PoolError("PROVIDER_UNAVAILABLE", `Instance ${instanceId} has no availability zone yet; the pool retries.`);
    // One home per user, purpose and zone: a warm instance in another zone gets (or creates) the user's home there.
    const home = await this.homes.ensureIn(purpose, userId, zone);
    await aws({ action: "ec2:CreateTags", target: instanceId }, () =>
      this.clients.ec2.send(new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: TAG.homeVolume, Value: home.volumeId }] })),
    );
    if (home.attachedTo && home.attachedTo !== instanceId) {
      throw new PoolError("CONFLICT", `Home volume ${home.volumeId} of ${userId} is still attached to ${home.attachedTo}; the pool retries once it is free.`);
    }
    const sleep = (ms: number) => this.sleep(ms);
    if (home.state === "creating" && !(await this.homes.waitFor(home.volumeId, isAvailable, sleep, this.pollMs))) {
      throw new PoolError("PROVIDER_UNAVAILABLE", `Home volume ${home.volumeId} is still being created; the pool retries.`);
    }
    await this.homes.attach(home.volumeId, instanceId);
    if (!(await this.homes.waitFor(home.volumeId, isAttachedTo(instanceId), sleep, this.pollMs))) {
      throw new PoolError("PROVIDER_UNAVAILABLE", `Home volume ${home.volumeId} did not attach to ${instanceId} in time; the pool retries.`);
    }
    const res = await this.ssmOps.runShell(instanceId, [`/usr/local/sbin/rstudio-pool-home mount ${home.volumeId}`], { timeoutSeconds: 300, comment: `rstudio-pool: mount home of ${userId}` });
    if (res.status !== "Success") {
      throw new PoolError("PROVIDER_ERROR", `Mounting home volume ${home.volumeId} on ${instanceId} failed (${res.status}): ${res.stderr.slice(0, 300)}`);
    }
  }

  async release(ref: InstanceRef, _purpose: PurposeConfig): Promise<void> {
    if (!ref.providerId) return;
    const [inst] = await describeByIds(this.clients.ec2, [ref.providerId]);
    if (!inst || inst.State?.Name !== "running") return; // termination lets go of the volume
    const home = homeVolumeOf(inst);
    if (!home.volumeId || !home.attached) return;
    // Unmount first so the file system is clean. If the agent cannot do it, the volume is left
    // attached: terminating the instance shuts it down cleanly and frees the volume, which is
    // safer than pulling a mounted disk.
    const res = await this.ssmOps
      .runShell(ref.providerId, ["/usr/local/sbin/rstudio-pool-home unmount"], { timeoutSeconds: 120, comment: "rstudio-pool: unmount home" })
      .catch((err: unknown) => ({ status: "Error", stdout: "", stderr: (err as Error).message }));
    if (res.status !== "Success") {
      this.log.warn({ event: "home-unmount-skipped", providerId: ref.providerId, volumeId: home.volumeId, status: res.status }, "could not unmount the home volume; termination will free it");
      return;
    }
    await this.homes.detach(home.volumeId, ref.providerId);
  }

  async connect(ref: InstanceRef, purpose: PurposeConfig, request: ConnectRequest): Promise<ConnectionResponse> {
    const instanceId = requireProviderId(ref);
    await this.ssmOps.requireOnline(instanceId);
    // The app's port on the instance: the main app's by default, or another one the purpose serves.
    const app = request.app ?? purpose.app;
    const remotePort = purposeApps(purpose).find((a) => a.app === app)?.port;
    if (remotePort === undefined) throw new PoolError("INVALID_REQUEST", `Purpose "${purpose.name}" does not serve ${app}; it serves ${purposeApps(purpose).map((a) => a.app).join(", ")}.`);
    const localPort = request.localPort ?? remotePort;
    const parameters = { portNumber: [String(remotePort)], localPortNumber: [String(localPort)] };
    const out = await this.ssmOps.startPortForward(instanceId, remotePort, localPort, `rstudio-pool ${ref.id} for ${request.userId}`);
    if (!out.SessionId || !out.StreamUrl || !out.TokenValue) throw new PoolError("PROVIDER_ERROR", `SSM StartSession for ${instanceId} returned no session.`);
    return {
      kind: "ssm",
      sessionId: out.SessionId,
      streamUrl: out.StreamUrl,
      tokenValue: out.TokenValue,
      target: instanceId,
      region: this.clients.region,
      documentName: "AWS-StartPortForwardingSession",
      parameters,
      endpoint: this.clients.ssmEndpoint,
      app,
    };
  }

  async isBusy(ref: InstanceRef, purposeConfig: PurposeConfig): Promise<boolean> {
    const check = purposeConfig.ec2?.busyCheck;
    if (!check?.enabled || !ref.providerId) return false;
    const res = await this.ssmOps.runShell(ref.providerId, BUSY_SCRIPT, { timeoutSeconds: 30, comment: "rstudio-pool: busy check" });
    const reading = res.status === "Success" ? parseBusyOutput(res.stdout) : null;
    if (!reading) throw new PoolError("PROVIDER_ERROR", `Busy check on ${ref.providerId} gave no reading (${res.status}).`);
    return isBusyReading(reading, check.cpuThreshold);
  }

  async preferredZones(userId: string, purposeConfig: PurposeConfig): Promise<string[]> {
    const ec2 = purposeConfig.ec2;
    if (!ec2?.homeVolumes) return [];
    const homes = await this.homes.find(purposeConfig.name, userId);
    const free = homes.filter((h) => !h.attachedTo && h.state !== "deleting" && h.state !== "error");
    return [...new Set(free.sort((a, b) => a.createdAt - b.createdAt).map((h) => h.availabilityZone))];
  }

  // ---- prices ------------------------------------------------------------------------------

  async priceOf(purposeConfig: PurposeConfig): Promise<number | null> {
    if (purposeConfig.hourlyPrice !== undefined) return purposeConfig.hourlyPrice;
    const ec2 = purposeConfig.ec2;
    if (!ec2) return null;
    const type = ec2.instanceTypes[0]!;
    if (ec2.market === "spot") {
      const spot = await this.spotPrices.hourly(type, null).catch(() => null);
      if (spot !== null) return spot;
    }
    return onDemandHourly(this.clients.region, type);
  }

  /** Monthly price of one user's home volume of the purpose (null when the table lacks it). */
  homeVolumeMonthly(purposeConfig: PurposeConfig): number | null {
    const ec2 = purposeConfig.ec2;
    if (!ec2?.homeVolumes) return 0;
    const perGb = ebsGbMonth(this.clients.region, ec2.homeVolumeType);
    return perGb === null ? null : perGb * ec2.homeVolumeGiB;
  }

  async close(): Promise<void> {
    this.clients.destroy();
  }
}

function requireProviderId(ref: InstanceRef): string {
  if (!ref.providerId) throw new PoolError("INSTANCE_NOT_RUNNING", `Instance ${ref.id} has not been launched yet; wait until it is running.`);
  return ref.providerId;
}
