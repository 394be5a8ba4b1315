/**
 * What the user reads when the claim worked but the connection did not. The toast must not say
 * "Failed to claim": the instance is theirs, running and billing. It names what failed (the
 * connection, and why), what still holds (the claim and its price), and one next step, once.
 */
import type { InstanceView } from "../../contract";
import { ExtensionError, failureParts, type Failure } from "./errors";

/** Thrown by the claim flow when the instance is claimed and running but its tunnel did not open. */
export class TunnelOpenError extends ExtensionError {
  constructor(
    readonly instance: InstanceView,
    readonly reason: unknown,
  ) {
    const inner = reason instanceof ExtensionError ? reason : null;
    super(inner?.code ?? "TUNNEL_FAILED", reason instanceof Error ? reason.message : String(reason), { setting: inner?.setting, cause: reason });
    this.name = "TunnelOpenError";
  }
}

function price(inst: InstanceView): string {
  return inst.hourlyPrice !== null && inst.hourlyPrice !== undefined ? ` at $${inst.hourlyPrice.toFixed(2)}/h` : "";
}

export function describeTunnelFailure(err: TunnelOpenError): Failure {
  const inst = err.instance;
  const p = failureParts("connect to", inst.instanceId, err.reason);
  const holds = `Your claim holds: ${inst.instanceId} is running${price(inst)} until you release it.`;
  return { code: p.code, message: [p.failed, holds, p.next].filter(Boolean).join(" "), actions: p.actions, setting: p.setting };
}
