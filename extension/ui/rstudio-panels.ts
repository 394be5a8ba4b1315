/**
 * RStudio (or Jupyter) in webview panels: one per instance and app, reused (createOrShow). The iframe points at the
 * instance's tunnel through vscode.env.asExternalUri, so it also works in remote and
 * browser-based VS Code. A panel follows its tunnel: connecting, the frame, or a "tunnel down"
 * page with a retry button. Its visibility feeds the keep-alive's activity monitor.
 */
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import type { AppName, InstanceView } from "../../contract";
import { PANEL_VIEW_TYPE } from "../command-ids";
import { appTitle, mainApp, tunnelApp } from "../core/apps";
import type { Log } from "../core/emitter";
import { describeFailure, isCancel } from "../core/errors";
import type { ActivityMonitor } from "../core/keep-alive";
import { tunnelKey, type InstanceTunnel, type TunnelManager } from "../core/tunnels/tunnel-manager";
import { isPanelMessage, panelHtml, type PanelView } from "./panel-html";

export interface PanelDeps {
  extensionUri: vscode.Uri;
  tunnels: TunnelManager;
  monitor: ActivityMonitor;
  log: Log;
  openInBrowser: (instanceId: string, app?: AppName) => Promise<void>;
}

class RStudioPanel implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private tunnelListener: { dispose(): void } | null = null;
  private frameUrl: string | null = null;
  private shown: PanelView["kind"] | null = null;

  constructor(
    readonly instanceId: string,
    readonly panel: vscode.WebviewPanel,
    private readonly d: PanelDeps,
    private readonly onDispose: () => void,
    /** The app shown, when it is not the instance's main app (its tunnel is a second one). */
    private readonly app?: AppName,
    private readonly appName = "RStudio",
  ) {
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState((e) => d.monitor.setPanelVisible(instanceId, e.webviewPanel.visible)),
      panel.webview.onDidReceiveMessage((m: unknown) => {
        if (!isPanelMessage(m)) return;
        if (m.type === "reload") void panel.webview.postMessage({ type: "reloadFrame" });
        else if (m.type === "openInBrowser") void d.openInBrowser(instanceId, app);
        else if (m.type === "retry") void this.connect();
      }),
    );
    d.monitor.setPanelVisible(instanceId, panel.visible);
  }

  private render(view: PanelView): void {
    const webview = this.panel.webview;
    const media = vscode.Uri.joinPath(this.d.extensionUri, "media");
    this.shown = view.kind;
    webview.html = panelHtml({
      title: this.panel.title,
      instanceId: this.instanceId,
      nonce: randomBytes(16).toString("base64"),
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "panel.js")).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "panel.css")).toString(),
      view,
    });
  }

  /** Opens (or reuses) the tunnel and shows RStudio through it. */
  async connect(): Promise<void> {
    this.render({ kind: "connecting", message: `Opening the tunnel to ${this.appName}…` });
    let tunnel: InstanceTunnel;
    try {
      tunnel = await this.d.tunnels.open(this.instanceId, undefined, this.app);
    } catch (err) {
      if (isCancel(err)) return;
      this.render({ kind: "down", message: describeFailure("open the tunnel to", this.instanceId, err).message });
      return;
    }
    this.follow(tunnel);
    await this.showFrame(tunnel);
  }

  private follow(tunnel: InstanceTunnel): void {
    this.tunnelListener?.dispose();
    this.tunnelListener = tunnel.onDidChangeState((s) => {
      // While reconnecting the frame stays: the local port is stable and RStudio's own page
      // reconnects once the tunnel is back. Only a tunnel that gave up gets the retry page.
      if (s === "down" || s === "closed") {
        this.render({ kind: "down", message: tunnel.lastError ?? (s === "closed" ? "The tunnel was closed (the instance was released)." : "The tunnel stopped.") });
      } else if (s === "up" && this.shown !== "frame") void this.showFrame(tunnel);
    });
  }

  private async showFrame(tunnel: InstanceTunnel): Promise<void> {
    const external = await vscode.env.asExternalUri(vscode.Uri.parse(`http://127.0.0.1:${tunnel.localPort}/`));
    this.frameUrl = external.toString(true);
    this.d.log.info(`panel for ${this.instanceId} shows ${this.frameUrl}`);
    this.render({ kind: "frame", frameUrl: this.frameUrl });
  }

  dispose(): void {
    this.d.monitor.setPanelVisible(this.instanceId, false);
    this.tunnelListener?.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.onDispose();
    this.panel.dispose();
  }
}

export class RStudioPanels implements vscode.Disposable {
  private readonly panels = new Map<string, RStudioPanel>();

  constructor(private readonly d: PanelDeps) {}

  /** Shows one app of the instance (its main app by default) in its panel. */
  async createOrShow(instance: InstanceView, app: AppName = mainApp(instance)): Promise<void> {
    const second = tunnelApp(instance, app);
    const key = tunnelKey(instance.instanceId, second);
    const existing = this.panels.get(key);
    if (existing) {
      existing.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      PANEL_VIEW_TYPE,
      `${appTitle(app)}: ${instance.purpose}`,
      vscode.ViewColumn.Active,
      {
        enableScripts: true,
        retainContextWhenHidden: true,
        localResourceRoots: [vscode.Uri.joinPath(this.d.extensionUri, "media")],
      },
    );
    panel.iconPath = vscode.Uri.joinPath(this.d.extensionUri, "media", "rstudio-pool.svg");
    const entry = new RStudioPanel(instance.instanceId, panel, this.d, () => this.panels.delete(key), second, appTitle(app));
    this.panels.set(key, entry);
    await entry.connect();
  }

  /** Closes the instance's panels (one per app it showed). */
  close(instanceId: string): void {
    for (const p of [...this.panels.values()]) if (p.instanceId === instanceId) p.dispose();
  }

  isOpen(instanceId: string): boolean {
    return this.panels.has(instanceId);
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
  }
}
