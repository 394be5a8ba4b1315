/**
 * The command line of AWS session-manager-plugin for a port-forward session, as a pure function.
 * The plugin takes six arguments: the StartSession response, the region, "StartSession", the
 * profile, the StartSession request and the SSM endpoint. The response holds the session token,
 * so it goes in an environment variable and argument 1 is only that variable's NAME (the plugin
 * accepts a name starting with AWS_SSM_START_SESSION_RESPONSE): the token never shows in a
 * process list or a log line.
 */
import type { SsmConnection } from "../../../contract";

export const RESPONSE_ENV_NAME = "AWS_SSM_START_SESSION_RESPONSE_RSTUDIO_POOL";

export interface PluginInvocation {
  args: string[];
  /** Extra environment for the child: only the response variable. */
  env: Record<string, string>;
}

export function buildPluginInvocation(conn: SsmConnection, localPort: number): PluginInvocation {
  const request = {
    Target: conn.target,
    DocumentName: conn.documentName,
    // Our local port always wins: the tunnel keeps it across reconnects.
    Parameters: { ...conn.parameters, localPortNumber: [String(localPort)] },
  };
  const response = { SessionId: conn.sessionId, TokenValue: conn.tokenValue, StreamUrl: conn.streamUrl };
  return {
    args: [RESPONSE_ENV_NAME, conn.region, "StartSession", "", JSON.stringify(request), conn.endpoint],
    env: { [RESPONSE_ENV_NAME]: JSON.stringify(response) },
  };
}

/** The argv with anything secret-looking masked, for the log (the argv holds no token, but be sure). */
export function loggableArgs(args: readonly string[]): string {
  return args.map((a) => (a.length === 0 ? '""' : a.replace(/("TokenValue"\s*:\s*")[^"]*/g, "$1***"))).join(" ");
}
