/**
 * A user's home volume on the instances they are given: found or made in the instance's zone
 * (moved there from another zone when needed), attached, mounted through SSM when the instance
 * is handed over, and unmounted and detached when it is taken back. Each step checks before it
 * acts, so the pool can replay it after a restart.
 */
import { CreateTagsCommand, type Instance } from "@aws-sdk/client-ec2";
import type { Logger } from "pino";
import { PoolError } from "../../errors";
import { aws } from "./aws-errors";
import type { AwsClients } from "./clients";
import { HomeVolumes, isAttachedTo, isAvailable, preferredHome } from "./home-volumes";
import { describeByIds, homeVolumeOf } from "./instances";
import { parseProbe, probeCommands } from "./readiness";
import type { SsmOps } from "./ssm";
import { TAG, tagMap } from "./tags";
import type { Ec2Purpose } from "./provider";

export type HomeReadiness = { kind: "pending"; detail: string } | { kind: "attached"; volumeId: string };

export class HomeHandOver {
  constructor(
    private readonly clients: AwsClients,
    private readonly homes: HomeVolumes,
    private readonly ssmOps: SsmOps,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  /** Where a user's instance stands with their home before the readiness probe may run. */
  async readiness(i: Instance, purpose: Ec2Purpose, owner: string): Promise<HomeReadiness> {
    const home = await this.homeFor(i, purpose, owner);
    if (!home) return { kind: "pending", detail: "home being prepared" };
    if (!(i.BlockDeviceMappings ?? []).some((b) => b.Ebs?.VolumeId === home && b.Ebs?.Status === "attached")) {
      // Usually the volume is still being created, or the previous instance is letting go of it.
      await this.homes.attach(home, i.InstanceId!).catch((err: unknown) => {
        this.log.warn({ event: "home-attach-retry", providerId: i.InstanceId, volumeId: home, err: (err as Error).message }, "home volume not attached yet");
      });
      return { kind: "pending", detail: "home attaching" };
    }
    return { kind: "attached", volumeId: home };
  }

  /**
   * The user's home for this instance, in its zone: the one named by its HomeVolume tag, else
   * theirs in that zone, else one moved there from another zone (the launch waited for the home's
   * zone first), else a new one. Null while it is being prepared (snapshot, or the old home
   * still attached elsewhere). Tags the instance with it.
   */
  async homeFor(i: Instance, purpose: Ec2Purpose, owner: string): Promise<string | null> {
    const tagged = tagMap(i.Tags)[TAG.homeVolume];
    if (tagged) return tagged;
    const zone = i.Placement?.AvailabilityZone;
    if (!zone) return null;
    const homes = await this.homes.find(purpose.name, owner);
    let home = homes.find((h) => h.availabilityZone === zone && h.state !== "deleting" && h.state !== "error") ?? null;
    if (!home) {
      const elsewhere = homes.filter((h) => h.availabilityZone !== zone && h.state !== "deleting" && h.state !== "error");
      if (elsewhere.length) {
        const source = preferredHome(elsewhere.filter((h) => !h.attachedTo), [...new Set(elsewhere.map((h) => h.availabilityZone))]);
        if (!source) return null; // the home is still attached to the user's previous instance
        home = await this.homes.moveStep(purpose, owner, zone, source);
        if (!home) return null;
        this.log.warn({ event: "home-moved", userId: owner, from: source.volumeId, fromZone: source.availabilityZone, to: home.volumeId, zone }, "home moved to the instance's zone");
      } else {
        home = await this.homes.ensureIn(purpose, owner, zone);
      }
    }
    await aws({ action: "ec2:CreateTags", target: i.InstanceId! }, () =>
      this.clients.ec2.send(new CreateTagsCommand({ Resources: [i.InstanceId!], Tags: [{ Key: TAG.homeVolume, Value: home.volumeId }] })),
    );
    return home.volumeId;
  }

  /** A warm instance handed to a user: their home attached to it and mounted. */
  async mount(instanceId: string, purpose: Ec2Purpose, userId: string): Promise<void> {
    const [inst] = await describeByIds(this.clients.ec2, [instanceId]);
    if (!inst?.Placement?.AvailabilityZone) throw new PoolError("PROVIDER_UNAVAILABLE", `Instance ${instanceId} has no availability zone yet; the pool retries.`);
    // The claim handed over a warm instance in the zone of the user's home (or they have none yet).
    const volumeId = await this.homeFor(inst, purpose, userId);
    if (!volumeId) throw new PoolError("PROVIDER_UNAVAILABLE", `The home of ${userId} is being prepared for ${inst.Placement.AvailabilityZone}; the pool retries.`);
    const home = await this.homes.describe(volumeId);
    if (!home) throw new PoolError("PROVIDER_UNAVAILABLE", `Home volume ${volumeId} is not visible yet; the pool retries.`);
    if (home.attachedTo && home.attachedTo !== instanceId) {
      throw new PoolError("CONFLICT", `Home volume ${volumeId} of ${userId} is still attached to ${home.attachedTo}; the pool retries once it is free.`);
    }
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    if (home.state === "creating" && !(await this.homes.waitFor(volumeId, isAvailable, sleep, this.pollMs))) {
      throw new PoolError("PROVIDER_UNAVAILABLE", `Home volume ${volumeId} is still being created; the pool retries.`);
    }
    await this.homes.attach(volumeId, instanceId);
    if (!(await this.homes.waitFor(volumeId, isAttachedTo(instanceId), sleep, this.pollMs))) {
      throw new PoolError("PROVIDER_UNAVAILABLE", `Home volume ${volumeId} did not attach to ${instanceId} in time; the pool retries.`);
    }
    const res = await this.ssmOps.runShell(instanceId, probeCommands(volumeId), { timeoutSeconds: 420, comment: `rstudio-pool: mount home of ${userId}` });
    const r = parseProbe(res.stdout, volumeId);
    if (r.kind !== "ready") {
      throw new PoolError("PROVIDER_ERROR", `Mounting home volume ${volumeId} on ${instanceId} failed (${res.status}): ${r.kind === "failed" ? r.reason : r.detail} ${res.stderr.slice(0, 300)}`.trim());
    }
  }

  /**
   * An instance taken back: its home unmounted and detached. If the agent cannot unmount, the
   * volume is left attached: terminating the instance shuts it down cleanly and frees the volume,
   * which is safer than pulling a mounted disk.
   */
  async unmount(providerId: string): Promise<void> {
    const [inst] = await describeByIds(this.clients.ec2, [providerId]);
    if (!inst || inst.State?.Name !== "running") return; // termination lets go of the volume
    const home = homeVolumeOf(inst);
    if (!home.volumeId || !home.attached) return;
    const res = await this.ssmOps
      .runShell(providerId, ["/usr/local/sbin/rstudio-pool-home unmount"], { timeoutSeconds: 120, comment: "rstudio-pool: unmount home" })
      .catch((err: unknown) => ({ status: "Error", stdout: "", stderr: (err as Error).message }));
    if (res.status !== "Success") {
      this.log.warn({ event: "home-unmount-skipped", providerId, volumeId: home.volumeId, status: res.status }, "could not unmount the home volume; termination will free it");
      return;
    }
    await this.homes.detach(home.volumeId, providerId);
  }
}
