/**
 * One launch: an ordered walk over every allowed (market × instance type × subnet), so a zone
 * short of capacity is not the end of it. A user's launch stays in the zones of their home for
 * up to homeMoveAfterSeconds (their files are there); after that it may go anywhere and the home
 * follows it (see HomeVolumes.moveStep). The home itself is made once the instance runs, in its
 * zone (describe()), so a new user is never pinned to a zone before capacity is known.
 *
 * Why a walk and not CreateFleet: a walk keeps one RunInstances per cell with its own
 * ClientToken (idempotent across restarts, as before), needs no launch template to keep in step
 * with the purpose, and goes through the same launch queue; the price of that is up to one call
 * per cell on a bad day, and no price-capacity-optimized choice among the cells.
 */
import { RunInstancesCommand, type EC2Client, type Instance } from "@aws-sdk/client-ec2";
import type { Logger } from "pino";
import { PoolError } from "../../errors";
import type { LaunchRequest, LaunchResult } from "../types";
import { awsErrorCode, classifyLaunchError, SPOT_ROLE_FIX, toPoolError } from "./aws-errors";
import type { HomeVolumes } from "./home-volumes";
import type { ImageResolver } from "./image-resolver";
import { listPoolInstances } from "./instances";
import { launchMatrix, type LaunchCell } from "./launch-plan";
import type { LaunchQueue } from "./launch-queue";
import { buildRunInstancesInput } from "./launch-spec";
import { instanceHourly, type SpotPrices } from "./prices";
import type { Ec2Purpose } from "./provider";
import type { SubnetDirectory } from "./subnets";
import { TAG } from "./tags";
import { purposeApps } from "../../config/apps";
import { userDataBase64 } from "./user-data";

export interface LauncherDeps {
  ec2: EC2Client;
  ec2Launch: EC2Client;
  region: string;
  queue: LaunchQueue;
  images: ImageResolver;
  subnets: SubnetDirectory;
  homes: HomeVolumes;
  spotPrices: SpotPrices;
  log: Logger;
  now: () => number;
  listPageSize: number;
  listMaxPages: number;
}

export class Ec2Launcher {
  /** When each user launch first found no capacity in its home's zones (for the home move wait). */
  private readonly homeZoneShortSince = new Map<string, number>();

  constructor(private readonly d: LauncherDeps) {}

  async launch(req: LaunchRequest, purpose: Ec2Purpose): Promise<LaunchResult> {
    const ec2 = purpose.ec2;
    const image = await this.d.images.resolve(ec2);
    const subnets = await this.d.subnets.forPurpose(ec2.subnetIds);
    const zones = [...new Set(subnets.map((s) => s.availabilityZone))];
    const homeZones = req.ownerId && ec2.homeVolumes ? homeZonesOf(await this.d.homes.find(purpose.name, req.ownerId), zones) : [];
    const apps = purposeApps(req.purpose);
    const userData = userDataBase64({
      mode: ec2.rstudioMode,
      rstudioImage: ec2.rstudioImage,
      rPackages: ec2.rPackages,
      frameOrigin: ec2.frameOrigin,
      waitForHome: Boolean(req.ownerId && ec2.homeVolumes),
      apps: apps.map((a) => a.app),
      jupyterPort: apps.find((a) => a.app === "jupyter")?.port,
    });
    const matrix = launchMatrix(req.instanceId, ec2, subnets, homeZones);

    let cells = matrix;
    let movingHome = false;
    if (homeZones.length) {
      const since = this.homeZoneShortSince.get(req.instanceId);
      const waited = since !== undefined && this.d.now() - since >= ec2.homeMoveAfterSeconds * 1000;
      if (!waited) cells = matrix.filter((c) => c.zone === null || homeZones.includes(c.zone));
      movingHome = waited;
    }
    const walk = await this.walk(req, purpose, cells, image, userData);
    if ("result" in walk) {
      this.homeZoneShortSince.delete(req.instanceId);
      const zone = walk.result.availabilityZone;
      if (homeZones.length && zone && !homeZones.includes(zone)) {
        walk.result.details = {
          ...walk.result.details,
          notice: `No capacity in ${homeZones.join(", ")} (where your home is) for ${ec2.homeMoveAfterSeconds}s: your home is being copied to ${zone} (a snapshot, then a new volume), so this start takes a few minutes longer.`,
        };
        this.d.log.warn({ event: "home-move", instanceId: req.instanceId, userId: req.ownerId, from: homeZones, to: zone }, "launched outside the home's zone; the home moves");
      }
      return walk.result;
    }
    if (homeZones.length && !movingHome && walk.capacityOnly) {
      if (!this.homeZoneShortSince.has(req.instanceId)) this.homeZoneShortSince.set(req.instanceId, this.d.now());
      const left = Math.max(0, Math.ceil((this.homeZoneShortSince.get(req.instanceId)! + ec2.homeMoveAfterSeconds * 1000 - this.d.now()) / 1000));
      throw new PoolError(
        "PROVIDER_UNAVAILABLE",
        `No capacity in ${homeZones.join(", ")}, the zone of your home (tried ${walk.tried.join("; ")}). The pool keeps trying there; in ${left}s it moves your home to a zone with capacity, which makes this claim take a few minutes longer.`,
        { tried: walk.tried, homeZones },
      );
    }
    throw walk.error;
  }

  private async walk(
    req: LaunchRequest,
    purpose: Ec2Purpose,
    cells: LaunchCell[],
    image: { imageId: string; rootDeviceName: string },
    userData: string,
  ): Promise<{ result: LaunchResult } | { error: PoolError; tried: string[]; capacityOnly: boolean }> {
    const tried: string[] = [];
    const badTypes = new Set<string>();
    let skipSpot = false;
    let spotRoleMissing = false;
    let capacityOnly = true;
    for (const cell of cells) {
      if (badTypes.has(cell.instanceType) || (skipSpot && cell.market === "spot")) continue;
      const input = buildRunInstancesInput({
        poolName: req.poolName,
        poolInstanceId: req.instanceId,
        purpose,
        ownerId: req.ownerId,
        step: cell,
        image,
        subnetId: cell.subnetId,
        homeVolumeId: null,
        userDataBase64: userData,
      });
      try {
        const out = await this.d.queue.run(() => this.d.ec2Launch.send(new RunInstancesCommand(input)));
        const inst = out.Instances?.[0];
        if (!inst?.InstanceId) throw new PoolError("PROVIDER_ERROR", `RunInstances for ${req.instanceId} returned no instance.`);
        return { result: await this.result(purpose, inst, cell, image.imageId) };
      } catch (err) {
        if (err instanceof PoolError) throw err;
        const code = awsErrorCode(err);
        const where = `${cell.instanceType} ${cell.market}${cell.zone ? ` in ${cell.zone}` : ""}`;
        switch (classifyLaunchError(code, err instanceof Error ? err.message : String(err), cell.instanceType)) {
          case "idempotent-mismatch": {
            // This cell's token already launched an instance with other parameters (the settings
            // or the newest AMI changed since): that instance is the launch.
            const found = (await listPoolInstances(this.d.ec2, req.poolName, { pageSize: this.d.listPageSize, maxPages: this.d.listMaxPages })).instances.find(
              (i) => i.Tags?.some((t) => t.Key === TAG.poolInstanceId && t.Value === req.instanceId) && i.State?.Name !== "terminated",
            );
            if (found) return { result: await this.result(purpose, found, cell, found.ImageId ?? image.imageId) };
            throw new PoolError("PROVIDER_UNAVAILABLE", `Launch ${req.instanceId} was sent before with other settings and its instance is not visible yet; the pool retries.`, { awsCode: code });
          }
          case "skip-spot":
            skipSpot = true;
            tried.push(`${where}: ${code} (the account's spot quota; on-demand next)`);
            this.d.log.warn({ event: "launch-spot-quota", instanceId: req.instanceId, awsCode: code }, "spot quota reached; skipping spot");
            continue;
          case "spot-role-missing":
            skipSpot = true;
            spotRoleMissing = true;
            capacityOnly = false;
            tried.push(`${where}: ${code}`);
            this.d.log.error({ event: "launch-spot-role-missing", instanceId: req.instanceId, awsCode: code }, SPOT_ROLE_FIX);
            continue;
          case "skip-type":
            badTypes.add(cell.instanceType);
            capacityOnly = false;
            tried.push(`${where}: ${code} (this type does not fit; skipped)`);
            this.d.log.warn({ event: "launch-type-skipped", instanceId: req.instanceId, instanceType: cell.instanceType, awsCode: code }, "instance type refused with these settings; trying the next type");
            continue;
          case "next-cell":
            tried.push(`${where}: ${code}`);
            this.d.log.warn({ event: "launch-step-failed", instanceId: req.instanceId, instanceType: cell.instanceType, market: cell.market, zone: cell.zone, awsCode: code }, "no capacity; trying the next option");
            continue;
          default:
            throw toPoolError(err, { action: "ec2:RunInstances", target: `launch ${req.instanceId} as ${where}` });
        }
      }
    }
    const ec2 = purpose.ec2;
    if (spotRoleMissing && !cells.some((c) => c.market === "on-demand")) {
      return { error: new PoolError("PROVIDER_ERROR", `Failed to launch spot instances for purpose "${purpose.name}": ${SPOT_ROLE_FIX.replace(/; until then.*$/, "")}.`, { tried }), tried, capacityOnly: false };
    }
    if (ec2.instanceTypes.every((t) => badTypes.has(t))) {
      return {
        error: new PoolError("INVALID_CONFIG", `No instance type in ec2.instanceTypes fits the purpose's image and settings (tried ${tried.join("; ")}). Fix ec2.instanceTypes or the image.`, { tried }),
        tried,
        capacityOnly: false,
      };
    }
    return {
      error: new PoolError(
        "PROVIDER_UNAVAILABLE",
        `No capacity for purpose "${purpose.name}" (tried ${tried.join("; ")}). The pool retries; add instance types or subnets in more zones, or allow on-demand, to make this rarer.`,
        { tried },
      ),
      tried,
      capacityOnly,
    };
  }

  private async result(purpose: Ec2Purpose, inst: Instance, cell: LaunchCell, imageId: string): Promise<LaunchResult> {
    const zone = inst.Placement?.AvailabilityZone ?? cell.zone;
    const market = inst.InstanceLifecycle === "spot" ? "spot" : cell.market;
    const instanceType = inst.InstanceType ?? cell.instanceType;
    return {
      providerId: inst.InstanceId!,
      instanceType,
      market,
      availabilityZone: zone,
      hourlyPrice: await instanceHourly(purpose, this.d.region, this.d.spotPrices, instanceType, market, zone),
      details: { imageId, subnetId: inst.SubnetId ?? cell.subnetId, launchStep: cell.index, clientToken: cell.clientToken },
    };
  }
}

/** Zones of the user's homes (usable ones, oldest first) among the purpose's zones. */
export function homeZonesOf(homes: Array<{ availabilityZone: string; state: string; createdAt: number }>, zones: string[]): string[] {
  const usable = homes.filter((h) => zones.includes(h.availabilityZone) && h.state !== "deleting" && h.state !== "error").sort((a, b) => a.createdAt - b.createdAt);
  return [...new Set(usable.map((h) => h.availabilityZone))];
}
