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
import { CreateTagsCommand, TerminateInstancesCommand, type Instance } from "@aws-sdk/client-ec2";
import type { Logger } from "pino";
import type { ConnectionResponse } from "../../../contract";
import type { Ec2PurposeConfig, PurposeConfig } from "../../config/schema";
import { PoolError } from "../../errors";
import { silentLogger } from "../../log";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { ConnectRequest, InstanceObservation, InstanceRef, LaunchRequest, LaunchResult, Provider, ProviderInstance } from "../types";
import { aws, awsErrorCode, toPoolError } from "./aws-errors";
import { BUSY_SCRIPT, isBusyReading, parseBusyOutput } from "./busy-check";
import { createAwsClients, type AwsClientOptions, type AwsClients } from "./clients";
import { HomeHandOver } from "./home-hand-over";
import { HomeVolumes } from "./home-volumes";
import { ImageResolver } from "./image-resolver";
import { SqsInstanceEvents } from "./instance-events";
import { NoticeReader } from "./notice-reader";
import { Ec2Observer } from "./observer";
import { describeByIds, listPoolInstances, toProviderInstance } from "./instances";
import { Ec2Launcher } from "./launcher";
import { LaunchQueue } from "./launch-queue";
import { ebsGbMonth, onDemandHourly, SpotPrices, type SpotPriceObservation } from "./prices";
import { ReadinessProbe } from "./readiness";
import { SsmOps } from "./ssm";
import { DEFAULT_SUBNETS_WARNING, SubnetDirectory } from "./subnets";
import { TAG, tagMap } from "./tags";
import { SsmSessions } from "./ssm-sessions";
import { purposeApps } from "../../config/apps";
import type { ResumeSessionResponse } from "../../../contract";

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
  /** The configured purposes: describe() needs a purpose's settings to make a user's home once their instance runs. */
  purposes?: PurposeConfig[];
  now?: () => number;
  /** POOL_EVENTS_QUEUE_URL: EC2's instance events through EventBridge and SQS (observer.ts). */
  eventsQueueUrl?: string | null;
  /** Ready-made SQS client for the events queue (tests); otherwise built like the others. */
  sqs?: SQSClient;
  /** Pause between rounds of reading the spot watchers' notices when there is no queue. */
  noticeEveryMs?: number;
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
  private readonly ssmSessions: SsmSessions;
  readonly spotPrices: SpotPrices;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly listPageSize: number;
  private readonly listMaxPages: number;
  private readonly purposes = new Map<string, Ec2Purpose>();
  private readonly launcher: Ec2Launcher;
  private readonly readiness: ReadinessProbe;
  private readonly homeHandOver: HomeHandOver;
  private readonly now: () => number;
  /** When preferredZones() names zones, only warm instances in them may be handed to the user (their home is there). */
  readonly handOverOnlyInPreferredZones = true;

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
    this.now = options.now ?? Date.now;
    this.ssmOps = new SsmOps(this.clients.ssm, this.pollMs, undefined, this.clients.ssmOnce ?? this.clients.ssm, this.log);
    this.spotPrices = new SpotPrices(this.clients.ec2, undefined, this.now);
    this.ssmSessions = new SsmSessions(this.clients.ssm);
    this.readiness = new ReadinessProbe(this.ssmOps, this.now);
    this.homeHandOver = new HomeHandOver(this.clients, this.homes, this.ssmOps, this.log, this.pollMs);
    this.launcher = new Ec2Launcher({
      ec2: this.clients.ec2,
      ec2Launch: this.clients.ec2Launch,
      region: this.clients.region,
      queue: this.queue,
      images: this.images,
      subnets: this.subnets,
      homes: this.homes,
      spotPrices: this.spotPrices,
      log: this.log,
      now: this.now,
      listPageSize: this.listPageSize,
      listMaxPages: this.listMaxPages,
    });
    for (const p of options.purposes ?? []) if (p.ec2) this.purposes.set(p.name, p as Ec2Purpose);
    const noSubnets = [...this.purposes.values()].filter((p) => p.ec2.subnetIds.length === 0).map((p) => p.name);
    if (noSubnets.length) this.log.warn({ event: "default-subnets", purposes: noSubnets }, DEFAULT_SUBNETS_WARNING);
    const queueUrl = options.eventsQueueUrl ?? null;
    if (queueUrl) {
      this.sqs = options.sqs ?? new SQSClient({ region: options.region, ...(options.clientOptions?.credentials ? { credentials: options.clientOptions.credentials } : {}) });
    }
    this.observer = new Ec2Observer({
      queue: this.sqs && queueUrl ? new SqsInstanceEvents(this.sqs, queueUrl, this.log) : null,
      notices: new NoticeReader(this.clients.ssm, this.pollMs),
      noticeEveryMs: options.noticeEveryMs,
    });
  }

  private readonly observer: Ec2Observer;
  private readonly sqs: SQSClient | undefined;

  async observe(refs: () => Promise<InstanceRef[]>, handle: (o: InstanceObservation) => Promise<void>, signal: AbortSignal): Promise<void> {
    return this.observer.observe(await refs(), handle, signal);
  }

  private remember(purpose: Ec2Purpose): Ec2Purpose {
    this.purposes.set(purpose.name, purpose);
    return purpose;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  // ---- launching ---------------------------------------------------------------------------

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    return this.launcher.launch(req, this.remember(ec2Purpose(req.purpose)));
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

  /**
   * Ready means usable: EC2 running, the agent online, and the check on the instance says
   * RStudio answers, for a user's instance with their home mounted (describe() makes the home
   * in the instance's zone, or moves it there, attaches it and has it mounted). An instance
   * whose home cannot be mounted is terminated and reported so, with the reason.
   */
  async describe(providerIds: string[]): Promise<ProviderInstance[]> {
    if (providerIds.length === 0) return [];
    const instances = (await describeByIds(this.clients.ec2, providerIds)).filter((i) => i.InstanceId);
    const running = instances.filter((i) => i.State?.Name === "running" && !this.readiness.isKnownReady(i.InstanceId!));
    const online = running.length ? await this.ssmOps.onlineAgents(running.map((i) => i.InstanceId!)) : new Set<string>();
    return Promise.all(
      instances.map(async (i): Promise<ProviderInstance> => {
        const id = i.InstanceId!;
        if (i.State?.Name !== "running") return toProviderInstance(i, false);
        if (this.readiness.isKnownReady(id)) return toProviderInstance(i, true);
        if (!online.has(id)) return toProviderInstance(i, false);
        try {
          const r = await this.readyCheck(i);
          if (r.kind === "failed") return await this.failInstance(i, r.reason);
          return toProviderInstance(i, r.kind === "ready");
        } catch (err) {
          this.log.warn({ event: "readiness-retry", providerId: id, err: (err as Error).message }, "not ready yet");
          return toProviderInstance(i, false);
        }
      }),
    );
  }

  private async readyCheck(i: Instance) {
    const tags = tagMap(i.Tags);
    const owner = tags[TAG.owner];
    const purpose = this.purposes.get(tags[TAG.purpose] ?? "");
    if (!owner || !purpose?.ec2.homeVolumes) return this.readiness.check(i.InstanceId!, null);
    const home = await this.homeHandOver.readiness(i, purpose, owner);
    if (home.kind === "pending") return home;
    return this.readiness.check(i.InstanceId!, home.volumeId);
  }

  private async failInstance(i: Instance, reason: string): Promise<ProviderInstance> {
    const why = `not usable: ${reason}`;
    this.log.error({ event: "instance-unusable", providerId: i.InstanceId, reason }, "terminating an instance that cannot serve its user");
    await this.terminate([{ id: i.InstanceId!, providerId: i.InstanceId!, purpose: "", ownerId: null, availabilityZone: null, instanceType: null, market: null, details: {} }]);
    this.readiness.forget(i.InstanceId!);
    return { ...toProviderInstance(i, false), state: "terminated", stateReason: why };
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
    const purpose = this.remember(ec2Purpose(purposeConfig));
    const instanceId = requireProviderId(ref);
    await aws({ action: "ec2:CreateTags", target: instanceId }, () =>
      this.clients.ec2.send(new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: TAG.owner, Value: userId }] })),
    );
    if (!purpose.ec2.homeVolumes) return;
    await this.homeHandOver.mount(instanceId, purpose, userId);
  }

  async release(ref: InstanceRef, _purpose: PurposeConfig): Promise<void> {
    if (!ref.providerId) return;
    this.readiness.forget(ref.providerId);
    // Nobody keeps a tunnel into an instance the pool takes back (release and reap both come here).
    await this.ssmSessions.terminateAllOn(ref.providerId).then(
      (n) => n && this.log.info({ event: "sessions-ended", providerId: ref.providerId, sessions: n }, "ended the instance's SSM sessions"),
      (err: unknown) => this.log.warn({ event: "sessions-end-failed", providerId: ref.providerId, err: (err as Error).message }, "could not end the instance's SSM sessions; termination ends them"),
    );
    await this.homeHandOver.unmount(ref.providerId);
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

  resumeSession(ref: InstanceRef, sessionId: string): Promise<ResumeSessionResponse> {
    return this.ssmSessions.resume(sessionId, requireProviderId(ref));
  }

  terminateSession(ref: InstanceRef, sessionId: string): Promise<boolean> {
    return this.ssmSessions.terminate(sessionId, requireProviderId(ref));
  }

  /**
   * Asked before reaping: one SSM hiccup must not reap a running job, so the check is tried
   * busyCheck.attempts times (with a short pause) before the pool is told it failed; each
   * failed try and the decision are logged.
   */
  async isBusy(ref: InstanceRef, purposeConfig: PurposeConfig): Promise<boolean> {
    const check = purposeConfig.ec2?.busyCheck;
    if (!check?.enabled || !ref.providerId) return false;
    const attempts = check.attempts ?? 3;
    let last = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await this.ssmOps.runShell(ref.providerId, BUSY_SCRIPT, { timeoutSeconds: 30, comment: "rstudio-pool: busy check" });
        const reading = res.status === "Success" ? parseBusyOutput(res.stdout) : null;
        if (reading) {
          const busy = isBusyReading(reading, check.cpuThreshold);
          this.log.info({ event: "busy-check", providerId: ref.providerId, attempt, busy, ...reading }, busy ? "R is busy" : "R is idle");
          return busy;
        }
        last = `no reading (${res.status})`;
      } catch (err) {
        last = (err as Error).message;
      }
      this.log.warn({ event: "busy-check-retry", providerId: ref.providerId, attempt, attempts, err: last }, "busy check failed");
      if (attempt < attempts) await this.sleep(this.pollMs);
    }
    throw new PoolError("PROVIDER_UNAVAILABLE", `Busy check on ${ref.providerId} failed ${attempts} times (${last}).`);
  }

  /** Zones of the user's homes, oldest first (attached ones too: the home is there, even if busy for a moment). */
  async preferredZones(userId: string, purposeConfig: PurposeConfig): Promise<string[]> {
    const ec2 = purposeConfig.ec2;
    if (!ec2?.homeVolumes) return [];
    const homes = await this.homes.find(purposeConfig.name, userId);
    const usable = homes.filter((h) => h.state !== "deleting" && h.state !== "error");
    return [...new Set(usable.sort((a, b) => a.createdAt - b.createdAt).map((h) => h.availabilityZone))];
  }

  // ---- prices ------------------------------------------------------------------------------

  /** The price of the purpose's first type, for spot the lowest among the zones it can launch in. */
  async priceOf(purposeConfig: PurposeConfig): Promise<number | null> {
    if (purposeConfig.hourlyPrice !== undefined) return purposeConfig.hourlyPrice;
    const ec2 = purposeConfig.ec2;
    if (!ec2) return null;
    const type = ec2.instanceTypes[0]!;
    if (ec2.market === "spot") {
      const zones = await this.subnets
        .forPurpose(ec2.subnetIds)
        .then((s) => [...new Set(s.map((x) => x.availabilityZone))])
        .catch(() => null);
      const spot = await this.spotPrices.hourlyIn(type, zones).catch(() => null);
      if (spot !== null) return spot;
    }
    return onDemandHourly(this.clients.region, type);
  }

  /** Spot prices seen since the last call; the pool records them so the ledger bills the price in force. */
  observedSpotPrices(): SpotPriceObservation[] {
    return this.spotPrices.drainObserved();
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
    this.sqs?.destroy();
  }
}

function requireProviderId(ref: InstanceRef): string {
  if (!ref.providerId) throw new PoolError("INSTANCE_NOT_RUNNING", `Instance ${ref.id} has not been launched yet; wait until it is running.`);
  return ref.providerId;
}
