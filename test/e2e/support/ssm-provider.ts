/**
 * A test provider for the SSM path: the local provider's placeholder instances, reached the way
 * EC2 instances are, through an SSM port-forward session. connect() answers `kind: "ssm"` with a
 * session for a made-up EC2 target whose remote port is the placeholder's port on this machine.
 * With a fake gateway (test/support/ssm/fake-gateway.ts) the session is real there and its
 * ws:// URL is returned, so the extension's built-in client speaks the protocol to it; the
 * stand-in session-manager-plugin ignores the URL and forwards TCP. ResumeSession and
 * TerminateSession go to the gateway too, and each is recorded as a JSON line in `eventsFile`.
 * The first session token is fixed per instance so the test can look for it in places it must
 * not be (argv, logs).
 */
import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import type { ConnectionResponse, ResumeSessionResponse } from "../../../contract";
import type { FakeSsmGateway } from "../../support/ssm/fake-gateway";
import type { PurposeConfig } from "../../../backend/config/schema";
import type { ConnectRequest, InstanceRef, LaunchRequest, Provider } from "../../../backend/providers/types";
import { PoolError } from "../../../backend/errors";

export const SSM_REGION = "eu-central-1";
export const SSM_ENDPOINT = `https://ssm.${SSM_REGION}.amazonaws.com`;

/** The made-up EC2 instance id an instance is "on". */
export function fakeTarget(instanceId: string): string {
  return `i-${createHash("sha256").update(instanceId).digest("hex").slice(0, 17)}`;
}

/** The session token handed out for an instance (fake; never a real credential). */
export function fakeSessionToken(instanceId: string): string {
  return `E2E-FAKE-SSM-TOKEN-${instanceId}`;
}

export class SsmStandInProvider implements Provider {
  readonly kind = "ec2-ssm-stand-in";
  private sessions = 0;

  /** `local`: the LocalProvider that runs the placeholder instances. */
  constructor(
    private readonly local: Provider,
    private readonly gateway: FakeSsmGateway | null = null,
    private readonly eventsFile: string | null = null,
  ) {}

  private note(event: Record<string, unknown>): void {
    if (this.eventsFile) appendFileSync(this.eventsFile, JSON.stringify({ at: Date.now(), ...event }) + "\n");
  }

  async resumeSession(ref: InstanceRef, sessionId: string): Promise<ResumeSessionResponse> {
    const s = this.gateway?.sessions.get(sessionId);
    const out = s && s.target === fakeTarget(ref.id) ? this.gateway!.resume(sessionId) : null;
    this.note({ event: "resume", instanceId: ref.id, sessionId, ok: out !== null, connections: s?.connections ?? 0 });
    if (!out) throw new PoolError("SSM_SESSION_NOT_FOUND", `SSM session ${sessionId} is not an active session to this instance; open a new connection.`);
    return out;
  }

  async terminateSession(ref: InstanceRef, sessionId: string): Promise<boolean> {
    const s = this.gateway?.sessions.get(sessionId);
    const ended = !!s && s.target === fakeTarget(ref.id) && this.gateway!.terminate(sessionId);
    this.note({ event: "terminate", instanceId: ref.id, sessionId, ended });
    return ended;
  }

  launch(request: LaunchRequest) {
    return this.local.launch(request);
  }
  list(poolName: string) {
    return this.local.list(poolName);
  }
  describe(providerIds: string[]) {
    return this.local.describe(providerIds);
  }
  terminate(refs: InstanceRef[]) {
    return this.local.terminate(refs);
  }
  assign(ref: InstanceRef, userId: string, purpose: PurposeConfig) {
    return this.local.assign(ref, userId, purpose);
  }
  release(ref: InstanceRef, purpose: PurposeConfig) {
    return this.local.release(ref, purpose);
  }
  isBusy(ref: InstanceRef, purpose: PurposeConfig) {
    return this.local.isBusy(ref, purpose);
  }
  priceOf(purpose: PurposeConfig) {
    return this.local.priceOf(purpose);
  }
  close() {
    return this.local.close();
  }

  async connect(ref: InstanceRef, purpose: PurposeConfig, request: ConnectRequest): Promise<ConnectionResponse> {
    const direct = await this.local.connect(ref, purpose, request);
    if (direct.kind !== "direct") throw new Error("the local provider answered a non-direct connection");
    this.sessions += 1;
    const sessionId = `e2e-user-${ref.id}-${String(this.sessions).padStart(4, "0")}`;
    const streamUrl = this.gateway
      ? this.gateway.createSession({ sessionId, target: fakeTarget(ref.id), targetPort: direct.port, token: fakeSessionToken(ref.id) }).streamUrl
      : `wss://ssmmessages.${SSM_REGION}.amazonaws.com/v1/data-channel/${sessionId}?role=publish_subscribe`;
    this.note({ event: "start", instanceId: ref.id, sessionId });
    return {
      kind: "ssm",
      sessionId,
      streamUrl,
      tokenValue: fakeSessionToken(ref.id),
      target: fakeTarget(ref.id),
      region: SSM_REGION,
      documentName: "AWS-StartPortForwardingSession",
      parameters: { portNumber: [String(direct.port)], localPortNumber: [String(request.localPort ?? 0)] },
      endpoint: SSM_ENDPOINT,
    };
  }
}
