/**
 * The data channel's handshake: the agent asks for client actions (the session type, perhaps
 * KMS encryption), the client answers which it performed, and the agent says it is complete.
 * This client does port forwarding over smux and nothing else; it refuses KMS encryption
 * (that needs a KMS data key the user has no credentials for) with an error naming the setting.
 */
import { ExtensionError } from "../errors";

/** What we tell the agent we are. At least 1.1.70 makes the agent multiplex streams with smux. */
export const CLIENT_VERSION = "1.2.707.0";
/** Agents at or below this version do not multiplex port-forward streams. */
export const MIN_MUX_AGENT_VERSION = "3.0.196.0";

export const ActionStatus = { Success: 1, Failed: 2, Unsupported: 3 } as const;

export interface RequestedClientAction {
  ActionType: string;
  ActionParameters?: unknown;
}
export interface HandshakeRequest {
  AgentVersion?: string;
  RequestedClientActions?: RequestedClientAction[];
}
export interface ProcessedClientAction {
  ActionType: string;
  ActionStatus: number;
  ActionResult?: unknown;
  Error?: string;
}
export interface HandshakeResponse {
  ClientVersion: string;
  ProcessedClientActions: ProcessedClientAction[];
  Errors: string[];
}
export interface HandshakeComplete {
  HandshakeTimeToComplete?: number;
  CustomerMessage?: string;
}

export const KMS_PREFERENCE = "KMS encryption (kmsKeyId) in the account's Session Manager preferences (SSM-SessionManagerRunShell)";

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => Number(x) || 0);
  const pb = b.split(".").map((x) => Number(x) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export interface HandshakeDecision {
  response: HandshakeResponse;
  /** Set when the session cannot go on; the response still goes out so the agent knows why. */
  refusal: ExtensionError | null;
}

/** Our answer to the agent's request, and whether we must stop. */
export function answerHandshake(req: HandshakeRequest): HandshakeDecision {
  const processed: ProcessedClientAction[] = [];
  let refusal: ExtensionError | null = null;
  for (const action of req.RequestedClientActions ?? []) {
    if (action.ActionType === "SessionType") {
      const params = (action.ActionParameters ?? {}) as { SessionType?: string; Properties?: { type?: string } };
      if (params.SessionType !== "Port") {
        processed.push({ ActionType: action.ActionType, ActionStatus: ActionStatus.Failed, Error: `session type ${params.SessionType ?? "(none)"} is not a port session` });
        refusal ??= new ExtensionError("TUNNEL_FAILED", `the SSM session is of type ${params.SessionType ?? "(none)"}, not a port forward`);
      } else {
        processed.push({ ActionType: action.ActionType, ActionStatus: ActionStatus.Success });
      }
    } else if (action.ActionType === "KMSEncryption") {
      processed.push({ ActionType: action.ActionType, ActionStatus: ActionStatus.Failed, Error: "this client does not do KMS encryption" });
      refusal ??= new ExtensionError(
        "SSM_KMS_REQUIRED",
        `the SSM session asks for KMS encryption, which the built-in client does not do. The cause is ${KMS_PREFERENCE}`,
        { setting: "rstudioPool.tunnel" },
      );
    } else {
      processed.push({ ActionType: action.ActionType, ActionStatus: ActionStatus.Unsupported, Error: `${action.ActionType} is not supported` });
    }
  }
  const agent = req.AgentVersion ?? "";
  if (!refusal && agent && compareVersions(agent, MIN_MUX_AGENT_VERSION) <= 0) {
    refusal = new ExtensionError("SSM_AGENT_TOO_OLD", `the instance's SSM agent ${agent} cannot carry several connections at once (newer than ${MIN_MUX_AGENT_VERSION} is needed)`);
  }
  return { response: { ClientVersion: CLIENT_VERSION, ProcessedClientActions: processed, Errors: refusal ? [refusal.message] : [] }, refusal };
}
