/**
 * The one service container, built in activate(): plain classes wired to each other and to the
 * few VS Code surfaces (tree view, status bar, panels, output channel). Everything that holds a
 * timer, listener, child process or panel is disposed by dispose(); shutdown() also waits for
 * tunnel processes to exit.
 */
import { spawn } from "node:child_process";
import * as vscode from "vscode";
import { isServing, type AppName, type CostsResponse } from "../../contract";
import { JupyterActivityProbe } from "../core/app-activity";
import { appTitle, instanceApps, purposeServes, tunnelApp } from "../core/apps";
import { CONFIG_SECTION, CONTEXT_KEYS, OUTPUT_CHANNEL_NAME, TREE_VIEW_ID } from "../command-ids";
import { BackendClient } from "../core/backend-client";
import { ClaimFlow } from "../core/claim-flow";
import { systemClock, type Log } from "../core/emitter";
import { describeFailure, ExtensionError, type Failure } from "../core/errors";
import { InstanceWatcher, type InstanceEvent } from "../core/instance-events";
import { InstanceStore } from "../core/instance-store";
import { ActivityMonitor, KeepAlive } from "../core/keep-alive";
import { Poller } from "../core/poller";
import { readSettings, type Settings } from "../core/settings";
import { checkPlugin } from "../core/tunnels/plugin-check";
import type { SpawnFn } from "../core/tunnels/ssm-tunnel";
import { TunnelManager } from "../core/tunnels/tunnel-manager";
import { formatDuration } from "../core/format";
import { CostStatusBar } from "./cost-status-bar";
import { showFailure } from "./notify";
import { RStudioPanels } from "./rstudio-panels";
import { TokenStore } from "./token-store";
import { InstanceTreeProvider, type Node } from "./tree-provider";
import { JobStore } from "../core/jobs/job-store";
import { JobsService } from "./jobs";

/** Tree visible: poll often. Hidden but the window focused and an instance held: slowly, for the idle warnings. */
const VISIBLE_POLL_MS = 10_000;
const BACKGROUND_POLL_MS = 60_000;
/** While a replacement host boots: often, so RStudio reopens soon after it is ready. */
const REPLACING_POLL_MS = 2_000;
const COST_POLL_MS = 60_000;
/** Longer than any list request takes. */
const STALE_LIST_MS = 60_000;

const spawnPlugin: SpawnFn = (command, args, options) =>
  spawn(command, args, { env: options.env, stdio: ["ignore", "pipe", "pipe"], windowsHide: true, detached: false });

export class Services implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  readonly log: Log;
  readonly tokens: TokenStore;
  readonly client: BackendClient;
  readonly store: InstanceStore;
  readonly tree: InstanceTreeProvider;
  readonly treeView: vscode.TreeView<Node>;
  readonly poller: Poller;
  readonly costPoller: Poller;
  readonly monitor: ActivityMonitor;
  readonly keepAlive: KeepAlive;
  readonly tunnels: TunnelManager;
  readonly panels: RStudioPanels;
  readonly costBar: CostStatusBar;
  readonly claimFlow: ClaimFlow;
  readonly jobs: JobsService;
  readonly watcher = new InstanceWatcher();
  costs: CostsResponse | null = null;
  private readonly jupyterProbe = new JupyterActivityProbe();
  private readonly disposables: vscode.Disposable[] = [];
  private treeVisible = false;
  private focused = vscode.window.state.focused;

  constructor(readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel(OUTPUT_CHANNEL_NAME, { log: true });
    const out = this.output;
    this.log = { info: (m) => out.info(m), warn: (m) => out.warn(m), error: (m) => out.error(m) };
    this.tokens = new TokenStore(context.secrets);
    this.client = new BackendClient({ baseUrl: () => this.settings().backendUrl, token: () => this.tokens.get(), log: this.log });
    this.store = new InstanceStore(this.client, this.log);
    const jobStore = new JobStore(this.client, this.log);
    this.tree = new InstanceTreeProvider(this.store, Date.now, jobStore);
    this.treeView = vscode.window.createTreeView(TREE_VIEW_ID, { treeDataProvider: this.tree, showCollapseAll: false });
    this.jobs = new JobsService({ store: jobStore, client: this.client, log: this.log, tokens: this.tokens, instances: this.store, treeView: this.treeView, refreshTree: () => this.tree.refresh(), onJobEnded: () => {
      void this.poller.refresh();
      void this.costPoller.refresh();
    } });
    this.poller = new Poller(() => this.store.refresh(), () => (this.replacing.size > 0 ? REPLACING_POLL_MS : this.treeVisible ? VISIBLE_POLL_MS : BACKGROUND_POLL_MS), systemClock);
    this.costPoller = new Poller(() => this.refreshCosts(), () => COST_POLL_MS, systemClock);
    this.monitor = new ActivityMonitor(systemClock);
    this.tunnels = new TunnelManager({
      client: this.client,
      tunnelMode: () => this.settings().tunnel,
      pluginPath: () => this.settings().sessionManagerPluginPath,
      checkPlugin: (p) => checkPlugin(p),
      spawn: spawnPlugin,
      clock: systemClock,
      log: this.log,
      onTraffic: (id) => this.monitor.noteTraffic(id),
    });
    this.keepAlive = new KeepAlive({
      monitor: this.monitor,
      heartbeat: (id) => this.client.heartbeat(id),
      instances: () => this.store.instances.filter((i) => i.state === "running").map((i) => i.instanceId),
      intervalMs: () => this.settings().heartbeatSeconds * 1000,
      clock: systemClock,
      log: this.log,
      onDeadline: (id, idleDeadline) => {
        const inst = this.store.find(id);
        if (inst) this.store.upsert({ ...inst, idleDeadline });
      },
      onGone: () => void this.poller.refresh(),
      probeAppWork: (id) => this.jupyterWorked(id),
    });
    this.panels = new RStudioPanels({
      extensionUri: context.extensionUri,
      tunnels: this.tunnels,
      monitor: this.monitor,
      log: this.log,
      openInBrowser: (id, app) => this.openInBrowser(id, app),
    });
    this.costBar = new CostStatusBar();
    this.claimFlow = new ClaimFlow({
      client: this.client,
      openTunnel: async (instance, signal, app) => this.tunnels.open(instance.instanceId, signal, tunnelApp(instance, app)),
      clock: systemClock,
      log: this.log,
    });

    this.monitor.setWindowFocused(this.focused);
    this.disposables.push(
      this.output,
      this.jobs,
      this.treeView,
      this.tree,
      this.costBar,
      this.panels,
      { dispose: () => this.poller.dispose() },
      { dispose: () => this.costPoller.dispose() },
      { dispose: () => this.keepAlive.dispose() },
      { dispose: () => void this.tunnels.dispose() },
      { dispose: () => this.store.dispose() },
      { dispose: () => this.tokens.dispose() },
      this.treeView.onDidChangeVisibility((e) => {
        this.treeVisible = e.visible;
        this.updatePolling();
      }),
      vscode.window.onDidChangeWindowState((s) => {
        this.focused = s.focused;
        this.monitor.setWindowFocused(s.focused);
        this.updatePolling();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${CONFIG_SECTION}.backendUrl`)) {
          this.log.info(`backend is now ${this.settings().backendUrl}`);
          void this.poller.refresh();
          void this.costPoller.refresh();
        }
      }),
    );
    this.store.onDidChange(() => this.onInstancesChanged());
    this.tokens.onDidChange(() => void this.onTokenChanged());
    this.treeVisible = this.treeView.visible;
  }

  settings(): Settings {
    return readSettings(vscode.workspace.getConfiguration(CONFIG_SECTION));
  }

  async start(): Promise<void> {
    this.keepAlive.start();
    this.jobs.start();
    await this.onTokenChanged();
  }

  private async onTokenChanged(): Promise<void> {
    const signedIn = Boolean(await this.tokens.get());
    await vscode.commands.executeCommand("setContext", CONTEXT_KEYS.signedIn, signedIn);
    this.costBar.setSignedIn(signedIn);
    if (!signedIn) {
      this.store.clear();
      this.costs = null;
      this.costBar.update(null, null);
    }
    this.updatePolling();
    void this.poller.refresh();
    if (signedIn) void this.costPoller.refresh();
    if (signedIn) void this.refreshPurposes();
  }

  /** Which apps the pool's purposes serve, for the when-clauses of Claim Jupyter. */
  async refreshPurposes(): Promise<void> {
    try {
      const { purposes } = await this.client.purposes();
      await vscode.commands.executeCommand("setContext", CONTEXT_KEYS.hasJupyterPurpose, purposes.some((p) => purposeServes(p, "jupyter")));
      await vscode.commands.executeCommand("setContext", CONTEXT_KEYS.purposesKnown, true);
    } catch (err) {
      this.log.warn(describeFailure("list", "the purposes", err).message);
    }
  }

  /** The keep-alive's probe: did the instance's Jupyter work (busy kernel, new activity) since last asked? */
  private async jupyterWorked(instanceId: string): Promise<boolean> {
    const inst = this.store.find(instanceId);
    if (!inst || !instanceApps(inst).includes("jupyter")) return false;
    const at = this.tunnels.get(instanceId, tunnelApp(inst, "jupyter"))?.upstreamAddress();
    if (!at) return false;
    return this.jupyterProbe.worked(instanceId, at);
  }

  private updatePolling(): void {
    const holding = this.store.instances.some((i) => isServing(i.state) || i.state === "interrupting");
    this.poller.setVisible(this.treeVisible || this.replacing.size > 0 || (this.focused && holding));
    this.costPoller.setVisible(this.focused);
  }

  private onInstancesChanged(): void {
    void vscode.commands.executeCommand("setContext", CONTEXT_KEYS.hasInstances, this.store.instances.length > 0);
    this.tree.refresh();
    this.treeView.message = this.store.error && this.store.error.code !== "NOT_SIGNED_IN" ? this.store.error.message : undefined;
    if (this.store.hasLoaded && !this.store.error) {
      // Close tunnels of instances that ended. One missing from the list is closed only when the
      // tunnel is older than the list could be (a poll sent before a claim does not show it yet).
      const now = Date.now();
      void this.tunnels.closeWhere((t) => {
        const inst = this.store.find(t.instanceId);
        return inst ? inst.state !== "running" : now - t.createdAt > STALE_LIST_MS;
      });
      for (const e of this.watcher.update(this.store.instances, Date.now())) void this.announce(e);
    }
    this.updatePolling();
  }

  private async refreshCosts(): Promise<void> {
    if (!(await this.tokens.get())) return;
    let failure: Failure | null = null;
    try {
      this.costs = await this.client.costs();
    } catch (err) {
      failure = describeFailure("load", "your costs", err);
    }
    this.costBar.update(this.costs, failure);
  }

  /** Progress notifications of replacements being started, by the interrupted instance's id. */
  private readonly replacing = new Map<string, () => void>();

  private async announce(e: InstanceEvent): Promise<void> {
    if (e.kind === "interrupting" || e.kind === "replaced" || e.kind === "replacementFailed") return this.announceReplacement(e);
    if (e.kind === "rebalance") {
      // The purpose's policy is "warn": nothing moves unless the user does.
      this.log.warn(`${e.instance.instanceId}: AWS recommends moving off this spot host`);
      void vscode.window.showWarningMessage(
        `AWS recommends moving off your ${e.instance.purpose} host: spot capacity is short and it may be reclaimed. Save your work; if it is reclaimed, your session is saved and a new host starts by itself.`,
      );
      return;
    }
    const name = `RStudio (${e.instance.purpose}, ${e.instance.instanceId})`;
    if (e.kind === "interrupted") {
      this.log.warn(`${e.instance.instanceId} was interrupted: ${e.instance.stateReason ?? "no reason given"}`);
      const pick = await vscode.window.showWarningMessage(
        `${name} was interrupted by the cloud provider${e.instance.stateReason ? ` (${e.instance.stateReason})` : ""}. Your home directory is kept; claim a new instance to continue.`,
        "Claim a new one",
      );
      if (pick) void vscode.commands.executeCommand("rstudioPool.claim");
    } else if (e.kind === "ended") {
      const why = e.instance.stateReason === "idle" ? "was reaped because it was idle" : `ended (${e.instance.state}${e.instance.stateReason ? `: ${e.instance.stateReason}` : ""})`;
      const pick = await vscode.window.showInformationMessage(`${name} ${why}.`, "Claim a new one");
      if (pick) void vscode.commands.executeCommand("rstudioPool.claim");
    } else {
      const pick = await vscode.window.showWarningMessage(
        `${name} will be reaped as idle in ${formatDuration(e.msLeft)} unless you use it.`,
        "Keep it",
        "Release now",
      );
      if (pick === "Keep it") await this.keepAlive.beat(e.instance.instanceId);
      else if (pick === "Release now") void vscode.commands.executeCommand("rstudioPool.release", e.instance.instanceId);
    }
  }

  /**
   * A spot interruption, as the user lives it: told at once that the host is being reclaimed and
   * the session saved, progress while the replacement boots, and RStudio reopened on the new
   * host by itself (in the same place, if a tab was open) with the suspended R session restored.
   */
  private async announceReplacement(e: Extract<InstanceEvent, { kind: "interrupting" | "replaced" | "replacementFailed" }>): Promise<void> {
    if (e.kind === "interrupting") {
      const id = e.instance.instanceId;
      this.log.warn(`${id} is being reclaimed by AWS; replacement ${e.instance.replacementId} is starting`);
      void vscode.window.showWarningMessage(
        "Your RStudio host is being reclaimed by AWS; your session is saved and a new host is starting. RStudio reopens here by itself when it is ready.",
      );
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: "Starting a new RStudio host", cancellable: false },
        () => new Promise<void>((resolve) => this.replacing.set(id, resolve)),
      );
      this.updatePolling();
      return;
    }
    this.replacing.get(e.from.instanceId)?.();
    this.replacing.delete(e.from.instanceId);
    if (e.kind === "replaced") {
      this.log.info(`${e.to.instanceId} replaced ${e.from.instanceId}`);
      const wasOpen = this.panels.isOpen(e.from.instanceId);
      this.panels.close(e.from.instanceId);
      if (wasOpen || this.settings().openIn === "editor") await this.panels.createOrShow(e.to);
      else await this.openInBrowser(e.to.instanceId);
      return;
    }
    this.log.error(`the replacement of ${e.from.instanceId} did not start: ${e.to?.stateReason ?? e.to?.state ?? "not found"}`);
    const pick = await vscode.window.showErrorMessage(
      `The new RStudio host could not be started${e.to?.stateReason ? ` (${e.to.stateReason})` : ""}. Your home directory is kept; claim an instance to continue.`,
      "Claim RStudio",
    );
    if (pick) void vscode.commands.executeCommand("rstudioPool.claim");
  }

  async openInBrowser(instanceId: string, app?: AppName): Promise<void> {
    const inst = this.store.find(instanceId);
    try {
      const tunnel = await this.tunnels.open(instanceId, undefined, inst ? tunnelApp(inst, app) : undefined);
      const uri = await vscode.env.asExternalUri(vscode.Uri.parse(`http://127.0.0.1:${tunnel.localPort}/`));
      await vscode.env.openExternal(uri);
    } catch (err) {
      await showFailure(describeFailure("open", `${appTitle(app ?? inst?.app ?? "rstudio")} ${instanceId} in the browser`, err));
    }
  }

  /** Signed in means a token exists; used by commands before talking to the backend. */
  async requireToken(): Promise<boolean> {
    if (await this.tokens.get()) return true;
    await showFailure(describeFailure("reach", "the RStudio Pool", new ExtensionError("NOT_SIGNED_IN", "you are not signed in")));
    return false;
  }

  dispose(): void {
    for (const resolve of this.replacing.values()) resolve();
    this.replacing.clear();
    for (const d of this.disposables.splice(0).reverse()) {
      try {
        d.dispose();
      } catch {
        // keep disposing the rest
      }
    }
  }

  /** dispose(), and wait until every tunnel process has exited. */
  async shutdown(): Promise<void> {
    const closing = this.tunnels.dispose();
    this.dispose();
    await closing;
  }
}
