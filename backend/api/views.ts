/** Turns database rows into the /v1 wire shapes of api/contract.ts. */
import { isAppName, purposeApps, type AppName } from "../config/apps";
import type { PoolConfig } from "../config/schema";
import type { Instance } from "../pool/api";
import type { InstanceView, PurposeView } from "../../contract";

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function instanceView(i: Instance, config: PoolConfig): InstanceView {
  const purpose = config.purposes.find((p) => p.name === i.purpose);
  const expires = purpose ? i.launchedAt + purpose.maxLifetimeSeconds * 1000 : null;
  // A provider that runs one app whatever the purpose says (local) records which at launch.
  const ran = isAppName(i.details?.app) ? i.details.app : null;
  const apps: AppName[] = ran ? [ran] : purpose ? purposeApps(purpose).map((a) => a.app) : ["rstudio"];
  return {
    instanceId: i.id,
    purpose: i.purpose,
    state: i.state,
    stateReason: i.stateReason,
    ownerId: i.ownerId,
    instanceType: i.instanceType,
    market: (i.market as InstanceView["market"]) ?? null,
    hourlyPrice: i.hourlyPrice ?? purpose?.hourlyPrice ?? null,
    currency: config.currency,
    launchedAt: new Date(i.launchedAt).toISOString(),
    runningAt: iso(i.runningAt),
    assignedAt: iso(i.assignedAt),
    endedAt: iso(i.endedAt),
    idleDeadline: iso(i.idleDeadline),
    expiresAt: i.endedAt === null ? iso(expires) : null,
    replacementId: typeof i.details.replacementId === "string" ? i.details.replacementId : null,
    app: apps[0]!,
    apps,
    ...(i.jobId ? { jobId: i.jobId } : {}),
  };
}

export function purposeView(p: PoolConfig["purposes"][number], config: PoolConfig, hourlyPrice: number | null): PurposeView {
  return {
    name: p.name,
    description: p.description,
    servicePort: p.servicePort,
    hourlyPrice,
    currency: config.currency,
    idleTimeoutSeconds: p.idleTimeoutSeconds,
    max: p.max,
    app: p.app,
    apps: purposeApps(p),
  };
}
