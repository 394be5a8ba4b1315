/**
 * Batch jobs and keep-alive holds in VS Code (issue #18): the job list polled often while a job
 * is active (and slowly while the tree shows), one output channel per job fed by a LogFollower,
 * a notification when a job this window saw active ends (with "Show Log"), and the status-bar
 * item of keep-alive holds with their cap and cost, polled until each ends. Everything here is
 * disposed with the service container.
 */
import * as vscode from "vscode";
import type { JobView, KeepAliveView } from "../../contract/jobs";
import { COMMANDS, CONTEXT_KEYS, jobChannelName } from "../command-ids";
import type { BackendClient } from "../core/backend-client";
import { systemClock, type Log } from "../core/emitter";
import { describeFailure, ExtensionError } from "../core/errors";
import type { InstanceStore } from "../core/instance-store";
import { holdEndedMessage, holdIndicator } from "../core/jobs/hold-indicator";
import { jobEndedNotice, jobLogFooter, jobLogHeader, JobWatcher } from "../core/jobs/job-events";
import type { JobStore } from "../core/jobs/job-store";
import { LogFollower } from "../core/jobs/log-follower";
import { Poller } from "../core/poller";
import type { TokenStore } from "./token-store";

/** While a job is queued or running: often, so its end is told soon. */
const ACTIVE_POLL_MS = 3_000;
/** Only the tree shows ended jobs: slowly. */
const IDLE_POLL_MS = 30_000;
const HOLD_POLL_MS = 30_000;
/** Log channels kept; the oldest finished one goes when a new one opens. */
const MAX_CHANNELS = 10;

export interface JobsServiceDeps {
  store: JobStore;
  client: BackendClient;
  log: Log;
  tokens: TokenStore;
  instances: InstanceStore;
  treeView: vscode.TreeView<unknown>;
  refreshTree: () => void;
  /** A job ended: its instance is released and its cost booked, so the instances and costs change too. */
  onJobEnded: () => void;
}

interface JobLog {
  channel: vscode.OutputChannel;
  follower: LogFollower;
  openedAt: number;
}

export class JobsService implements vscode.Disposable {
  readonly store: JobStore;
  readonly poller: Poller;
  private readonly holdPoller: Poller;
  private readonly watcher = new JobWatcher();
  private readonly logs = new Map<string, JobLog>();
  private readonly holds = new Map<string, KeepAliveView>();
  /** Holds the user ended here: no "it ended" notification for those. */
  private readonly endedHere = new Set<string>();
  private readonly holdBar = vscode.window.createStatusBarItem("rstudioPool.keepAlive", vscode.StatusBarAlignment.Left, 49);
  /** The env last given per script, this session only (values may be sensitive: never stored). */
  readonly lastEnv = new Map<string, string>();
  private readonly disposables: vscode.Disposable[] = [];
  private holdsDiscovered = false;
  private treeVisible: boolean;

  constructor(private readonly d: JobsServiceDeps) {
    this.store = d.store;
    this.poller = new Poller(() => this.store.refresh(), () => (this.store.hasActive ? ACTIVE_POLL_MS : IDLE_POLL_MS), systemClock);
    this.holdPoller = new Poller(() => this.refreshHolds(), () => HOLD_POLL_MS, systemClock);
    this.treeVisible = d.treeView.visible;
    this.holdBar.name = "RStudio Pool Keep-Alive";
    this.holdBar.command = COMMANDS.endKeepAlive;
    this.disposables.push(
      this.holdBar,
      { dispose: () => this.poller.dispose() },
      { dispose: () => this.holdPoller.dispose() },
      { dispose: () => this.store.dispose() },
      this.store.onDidChange(() => this.onJobsChanged()),
      d.instances.onDidChange(() => void this.discoverHolds()),
      d.tokens.onDidChange(() => void this.onTokenChanged()),
      d.treeView.onDidChangeVisibility((e) => {
        this.treeVisible = e.visible;
        this.updatePolling();
      }),
    );
  }

  start(): void {
    this.updatePolling();
    void this.poller.refresh();
  }

  refresh(): Promise<void> {
    return Promise.all([this.poller.refresh(), this.holdPoller.refresh()]).then(() => undefined);
  }

  private async onTokenChanged(): Promise<void> {
    if (await this.d.tokens.get()) {
      void this.poller.refresh();
      return;
    }
    for (const l of this.logs.values()) l.follower.dispose();
    this.watcher.clear();
    this.store.clear();
    this.holds.clear();
    this.holdsDiscovered = false;
    this.renderHolds();
  }

  private updatePolling(): void {
    this.poller.setVisible(this.store.hasActive || this.treeVisible);
    this.holdPoller.setVisible([...this.holds.values()].some((h) => h.endedReason === null));
  }

  private onJobsChanged(): void {
    this.d.refreshTree();
    if (this.store.hasLoaded && !this.store.error) {
      const ended = this.watcher.update(this.store.jobs);
      for (const job of ended) void this.announce(job);
      if (ended.length) this.d.onJobEnded();
    }
    this.updatePolling();
  }

  /** A job submitted from this window: listed at once, its log shown and followed, its end announced. */
  submitted(job: JobView): void {
    this.watcher.track(job);
    this.store.upsert(job);
    this.openLog(job, true);
    void this.poller.refresh();
  }

  private async announce(job: JobView): Promise<void> {
    const notice = jobEndedNotice(job);
    this.d.log.info(notice.message);
    const w = vscode.window;
    const pick = await (notice.level === "error" ? w.showErrorMessage(notice.message, "Show Log") : notice.level === "warning" ? w.showWarningMessage(notice.message, "Show Log") : w.showInformationMessage(notice.message, "Show Log"));
    if (pick === "Show Log") this.openLog(job, true);
  }

  /** The job's output channel (made and followed on first use); `reveal` shows it without taking focus. */
  openLog(job: JobView, reveal: boolean): vscode.OutputChannel {
    let entry = this.logs.get(job.jobId);
    if (!entry || entry.follower.state === "stopped") {
      entry?.channel.dispose();
      this.trimChannels();
      const channel = vscode.window.createOutputChannel(jobChannelName(job.scriptName, job.jobId));
      channel.appendLine(jobLogHeader(job));
      const jobId = job.jobId;
      const follower = new LogFollower({
        read: (offset, signal) => this.d.client.jobLog(jobId, offset, signal),
        onText: (text) => channel.append(text),
        onComplete: () => void this.logComplete(jobId, channel),
        onError: (f, final) => {
          channel.appendLine(`--- ${f.message}${final ? "" : " Retrying…"} ---`);
          this.d.log.warn(`job ${jobId}: ${f.message}`);
        },
        clock: systemClock,
      });
      entry = { channel, follower, openedAt: Date.now() };
      this.logs.set(jobId, entry);
      follower.start();
    }
    if (reveal) entry.channel.show(true);
    return entry.channel;
  }

  private async logComplete(jobId: string, channel: vscode.OutputChannel): Promise<void> {
    try {
      const job = await this.d.client.job(jobId);
      channel.appendLine(jobLogFooter(job));
      this.store.upsert(job);
    } catch (err) {
      channel.appendLine(`--- the log is complete; ${describeFailure("read", `job ${jobId}`, err).message} ---`);
      void this.poller.refresh();
    }
  }

  private trimChannels(): void {
    if (this.logs.size < MAX_CHANNELS) return;
    const oldest = [...this.logs.entries()].filter(([, l]) => l.follower.done).sort((a, b) => a[1].openedAt - b[1].openedAt)[0];
    if (!oldest) return;
    oldest[1].channel.dispose();
    this.logs.delete(oldest[0]);
  }

  // --- keep-alive holds ---

  holdOn(instanceId: string): KeepAliveView | undefined {
    const h = this.holds.get(instanceId);
    return h && h.endedReason === null ? h : undefined;
  }

  activeHolds(): KeepAliveView[] {
    return [...this.holds.values()].filter((h) => h.endedReason === null);
  }

  addHold(hold: KeepAliveView): void {
    this.endedHere.delete(hold.instanceId);
    this.holds.set(hold.instanceId, hold);
    this.renderHolds();
  }

  endedByUser(hold: KeepAliveView): void {
    this.endedHere.add(hold.instanceId);
    this.holds.set(hold.instanceId, hold.endedReason ? hold : { ...hold, endedReason: "cancelled" });
    this.renderHolds();
  }

  /** Once, after the first instance list: holds set from another window (or before a reload). */
  private async discoverHolds(): Promise<void> {
    const inst = this.d.instances;
    if (this.holdsDiscovered || !inst.hasLoaded || inst.error) return;
    this.holdsDiscovered = true;
    for (const i of inst.instances.filter((x) => x.state === "running")) {
      try {
        const hold = await this.d.client.keepAliveStatus(i.instanceId);
        if (hold.endedReason === null) this.holds.set(i.instanceId, hold);
      } catch {
        // No hold (404), or a backend without holds: nothing to show.
      }
    }
    this.renderHolds();
  }

  private async refreshHolds(): Promise<void> {
    for (const [id, before] of [...this.holds]) {
      if (before.endedReason !== null) continue;
      let now: KeepAliveView;
      try {
        now = await this.d.client.keepAliveStatus(id);
      } catch (err) {
        const gone = err instanceof ExtensionError && (err.status === 404 || err.code === "INSTANCE_NOT_RUNNING");
        if (!gone) {
          this.d.log.warn(describeFailure("read", `the keep-alive of ${id}`, err).message);
          continue;
        }
        now = { ...before, endedReason: "instance-ended" };
      }
      this.holds.set(id, now);
      if (now.endedReason !== null && !this.endedHere.has(id)) {
        const purpose = this.d.instances.find(id)?.purpose;
        const message = holdEndedMessage(now, purpose);
        this.d.log.info(message);
        void vscode.window.showInformationMessage(message);
      }
    }
    this.renderHolds();
  }

  private renderHolds(): void {
    const view = holdIndicator([...this.holds.values()], Date.now());
    if (view) {
      this.holdBar.text = view.text;
      this.holdBar.tooltip = view.tooltip;
      this.holdBar.show();
    } else this.holdBar.hide();
    void vscode.commands.executeCommand("setContext", CONTEXT_KEYS.hasKeepAlive, view !== null);
    this.updatePolling();
  }

  dispose(): void {
    for (const l of this.logs.values()) {
      l.follower.dispose();
      l.channel.dispose();
    }
    this.logs.clear();
    for (const d of this.disposables.splice(0).reverse()) {
      try {
        d.dispose();
      } catch {
        // keep disposing the rest
      }
    }
  }
}
