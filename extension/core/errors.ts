/**
 * Errors the extension shows to people. Each carries a stable code, reads
 * "Failed to <verb> <target>: <cause>" and names the next step, so a notification can offer the
 * matching button (sign in, show output, open a setting, install the plugin).
 */

/** Codes of the backend (backend/errors.ts) plus the extension's own. */
export type ExtensionErrorCode =
  | "BACKEND_UNREACHABLE"
  | "BAD_RESPONSE"
  | "NOT_SIGNED_IN"
  | "UNAUTHORIZED"
  | "POOL_EXHAUSTED"
  | "BUDGET_EXCEEDED"
  | "INSTANCE_NOT_FOUND"
  | "INSTANCE_NOT_RUNNING"
  | "INSTANCE_ENDED"
  | "PLUGIN_MISSING"
  | "PLUGIN_TOO_OLD"
  | "TUNNEL_FAILED"
  | "SSM_KMS_REQUIRED"
  | "SSM_AGENT_TOO_OLD"
  | "SSM_SESSION_ENDED"
  | "SSM_SESSION_NOT_FOUND"
  | "TIMEOUT"
  | (string & {});

/** What a notification button does; the VS Code layer maps each to a command. */
export type NextAction = "signIn" | "showOutput" | "claim" | "openSettings" | "installPlugin" | "retry";

export const PLUGIN_INSTALL_URL =
  "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html";

export class ExtensionError extends Error {
  readonly code: ExtensionErrorCode;
  /** HTTP status when the backend answered. */
  readonly status?: number;
  /** The setting to open for "openSettings". */
  readonly setting?: string;

  constructor(code: ExtensionErrorCode, message: string, opts: { status?: number; setting?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ExtensionError";
    this.code = code;
    this.status = opts.status;
    this.setting = opts.setting;
  }
}

/** A user's cancel: callers stop quietly, it is never shown as a failure. */
export class CancelledError extends Error {
  constructor() {
    super("Cancelled");
    this.name = "CancelledError";
  }
}

export function isCancel(err: unknown): boolean {
  return err instanceof CancelledError || (err instanceof Error && err.name === "AbortError");
}

export function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}

export interface Failure {
  code: ExtensionErrorCode;
  /** "Failed to claim RStudio: the pool is full (…). Try again in a few minutes." */
  message: string;
  actions: NextAction[];
  setting?: string;
}

const NEXT_STEP: Record<string, { text: string; actions: NextAction[] }> = {
  BACKEND_UNREACHABLE: { text: "Check that the backend runs and the setting rstudioPool.backendUrl points at it.", actions: ["openSettings", "showOutput"] },
  NOT_SIGNED_IN: { text: "Sign in with your API token.", actions: ["signIn"] },
  UNAUTHORIZED: { text: "Sign in again with a valid API token.", actions: ["signIn"] },
  POOL_EXHAUSTED: { text: "Try again in a few minutes, or release an instance you no longer use.", actions: ["retry"] },
  BUDGET_EXCEEDED: { text: "Ask your admin to raise the budget, or wait for next month.", actions: [] },
  INSTANCE_NOT_FOUND: { text: "Refresh the list of your instances.", actions: [] },
  INSTANCE_NOT_RUNNING: { text: "Claim a new one.", actions: ["claim"] },
  INSTANCE_ENDED: { text: "Claim a new one.", actions: ["claim"] },
  PLUGIN_MISSING: { text: `Install session-manager-plugin (${PLUGIN_INSTALL_URL}) or set rstudioPool.sessionManagerPluginPath.`, actions: ["installPlugin", "openSettings"] },
  PLUGIN_TOO_OLD: { text: `Update session-manager-plugin (${PLUGIN_INSTALL_URL}) or point rstudioPool.sessionManagerPluginPath at a newer one.`, actions: ["installPlugin", "openSettings"] },
  TUNNEL_FAILED: { text: "Retry; if it keeps failing, look at the output.", actions: ["retry", "showOutput"] },
  SSM_KMS_REQUIRED: { text: 'Set rstudioPool.tunnel to "plugin" to connect through session-manager-plugin, which does KMS encryption.', actions: ["openSettings"] },
  SSM_AGENT_TOO_OLD: { text: 'Set rstudioPool.tunnel to "plugin", or ask your admin to update the SSM agent in the instance image.', actions: ["openSettings", "showOutput"] },
  SSM_SESSION_ENDED: { text: "Retry to open a new session.", actions: ["retry", "showOutput"] },
  SSM_SESSION_NOT_FOUND: { text: "Retry to open a new session.", actions: ["retry", "showOutput"] },
  TIMEOUT: { text: "Retry; if it keeps failing, look at the output.", actions: ["retry", "showOutput"] },
  UNKNOWN_PURPOSE: { text: "Pick one of the purposes the pool offers.", actions: ["retry"] },
  SCRIPT_TOO_LARGE: { text: "Put large inputs in your home on the pool (or S3) and read them from the script.", actions: [] },
  JOB_LIMIT: { text: "Wait for one of your jobs to end, or cancel one in the Jobs list.", actions: [] },
  JOB_NOT_FOUND: { text: "Refresh the Jobs list.", actions: [] },
  JOB_ENDED: { text: "Nothing to do: the job is over.", actions: [] },
  JOB_LOG_EXPIRED: { text: "Old job logs are removed after the pool's retention; the Jobs list still shows how it ended.", actions: [] },
};

/** The cause in lower-case-first prose, without a trailing period (the message adds its own). */
function cause(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const text = raw.trim().replace(/\.+$/, "");
  return text ? text[0]!.toLowerCase() + text.slice(1) : "unknown error";
}

/**
 * Turns any error into what the user reads: "Failed to <verb> <target>: <cause>. <next step>".
 * The backend's own messages already end in a next step ("…; claim a new one."), so ours is
 * added only when the cause does not already say what to do.
 */
export function describeFailure(verb: string, target: string, err: unknown): Failure {
  const p = failureParts(verb, target, err);
  return { code: p.code, message: p.next ? `${p.failed} ${p.next}` : p.failed, actions: p.actions, setting: p.setting };
}

/** The pieces of describeFailure's message: "Failed to …: cause." and the next step ("" when the cause says it). */
export function failureParts(verb: string, target: string, err: unknown): { failed: string; next: string; code: ExtensionErrorCode; actions: NextAction[]; setting?: string } {
  const code: ExtensionErrorCode = err instanceof ExtensionError ? err.code : "INTERNAL";
  const step = NEXT_STEP[code] ?? { text: "See the output for details.", actions: ["showOutput"] as NextAction[] };
  const saysNext = err instanceof ExtensionError && err.status !== undefined && /;|\. /.test(err.message);
  return {
    code,
    failed: `Failed to ${verb} ${target}: ${cause(err)}.`,
    next: saysNext && code !== "UNAUTHORIZED" ? "" : step.text,
    actions: step.actions,
    setting: err instanceof ExtensionError ? err.setting : undefined,
  };
}
