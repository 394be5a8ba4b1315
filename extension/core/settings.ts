/** Typed reading of the rstudioPool.* settings from a narrowed WorkspaceConfiguration. */
export interface Settings {
  backendUrl: string;
  defaultPurpose: string;
  openIn: "editor" | "browser";
  heartbeatSeconds: number;
  sessionManagerPluginPath: string;
  /** How SSM connections are made: the built-in client, AWS's plugin, or built-in then the plugin. */
  tunnel: TunnelMode;
}

export type TunnelMode = "native" | "plugin" | "auto";
export const TUNNEL_MODES: readonly TunnelMode[] = ["native", "plugin", "auto"];

export type ConfigReader = { get<T>(key: string): T | undefined };

export function readSettings(config: ConfigReader): Settings {
  const heartbeat = Number(config.get<number>("heartbeatSeconds") ?? 60);
  return {
    backendUrl: (config.get<string>("backendUrl") || "http://127.0.0.1:8080").trim(),
    defaultPurpose: (config.get<string>("defaultPurpose") ?? "").trim(),
    openIn: config.get<string>("openIn") === "browser" ? "browser" : "editor",
    heartbeatSeconds: Number.isFinite(heartbeat) ? Math.min(3600, Math.max(10, heartbeat)) : 60,
    sessionManagerPluginPath: (config.get<string>("sessionManagerPluginPath") ?? "").trim() || "session-manager-plugin",
    tunnel: (TUNNEL_MODES as readonly string[]).includes(config.get<string>("tunnel") ?? "") ? (config.get<string>("tunnel") as TunnelMode) : "native",
  };
}
