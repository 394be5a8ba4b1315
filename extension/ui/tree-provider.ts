/** Draws the InstanceTreeModel rows in the "My Instances" tree, and the Jobs node under them; owns its change event. */
import * as vscode from "vscode";
import type { InstanceView } from "../../contract";
import type { JobView } from "../../contract/jobs";
import { COMMANDS } from "../command-ids";
import type { JobStore } from "../core/jobs/job-store";
import { isJobActive, jobRow, jobRows, jobsSummary, type JobIcon, type JobRow } from "../core/jobs/job-tree-model";
import { appIcon, mainApp } from "../core/apps";
import { instanceRow, type DetailLine, type InstanceRow, type RowIcon } from "../core/instance-tree-model";
import type { InstanceStore } from "../core/instance-store";
import { instanceRows } from "../core/instance-tree-model";

export type Node =
  | { kind: "instance"; row: InstanceRow; instance: InstanceView }
  | { kind: "detail"; parent: string; line: DetailLine }
  | { kind: "error"; message: string }
  | { kind: "jobs" }
  | { kind: "job"; row: JobRow; job: JobView };

const JOB_ICONS: Record<JobIcon, vscode.ThemeIcon> = {
  queued: new vscode.ThemeIcon("watch"),
  running: new vscode.ThemeIcon("loading~spin"),
  succeeded: new vscode.ThemeIcon("pass", new vscode.ThemeColor("testing.iconPassed")),
  failed: new vscode.ThemeIcon("error", new vscode.ThemeColor("testing.iconFailed")),
  cancelled: new vscode.ThemeIcon("circle-slash"),
};

const ICONS: Record<RowIcon, vscode.ThemeIcon> = {
  running: new vscode.ThemeIcon("vm-running", new vscode.ThemeColor("testing.iconPassed")),
  pending: new vscode.ThemeIcon("loading~spin"),
  ended: new vscode.ThemeIcon("vm-outline"),
  problem: new vscode.ThemeIcon("warning", new vscode.ThemeColor("problemsWarningIcon.foreground")),
};

export class InstanceTreeProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly store: InstanceStore,
    private readonly now: () => number = Date.now,
    private readonly jobs: JobStore | null = null,
  ) {}

  /** Redraws from the store (the Poller refreshes the store; this only repaints). */
  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: Node): Node[] {
    if (!node) {
      const rows = instanceRows(this.store.instances, this.now());
      const nodes: Node[] = rows.map((row) => ({ kind: "instance", row, instance: this.store.find(row.instanceId)! }));
      const err = this.store.error;
      // Signed-out and empty states are the welcome views; only a real failure is shown as a row.
      if (err && err.code !== "NOT_SIGNED_IN") nodes.unshift({ kind: "error", message: err.message });
      // The Jobs node shows once there is a job (until then the welcome views explain the view).
      if (this.jobs && this.jobs.jobs.length > 0) nodes.push({ kind: "jobs" });
      return nodes;
    }
    if (node.kind === "instance") return node.row.details.map((line) => ({ kind: "detail", parent: node.row.instanceId, line }));
    if (node.kind === "jobs" && this.jobs) {
      const rows: Node[] = jobRows(this.jobs.jobs, this.now()).map((row) => ({ kind: "job", row, job: this.jobs!.find(row.jobId)! }));
      if (this.jobs.error && this.jobs.error.code !== "NOT_SIGNED_IN") rows.unshift({ kind: "error", message: this.jobs.error.message });
      return rows;
    }
    if (node.kind === "job") return node.row.details.map((line) => ({ kind: "detail", parent: `job:${node.row.jobId}`, line }));
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === "jobs") {
      const item = new vscode.TreeItem("Jobs", vscode.TreeItemCollapsibleState.Expanded);
      item.id = "jobs";
      item.description = jobsSummary(this.jobs?.jobs ?? []);
      item.iconPath = new vscode.ThemeIcon("server-process");
      item.contextValue = "jobs";
      item.tooltip = "Your batch R jobs: run one with \"Run R Script on Pool\" on an .R file.";
      return item;
    }
    if (node.kind === "job") {
      const row = jobRow(node.job, this.now());
      const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `job:${row.jobId}`;
      item.description = row.description;
      item.tooltip = row.tooltip;
      item.contextValue = row.contextValue;
      item.iconPath = JOB_ICONS[row.icon];
      item.command = { command: COMMANDS.showJobLog, title: "Show Job Log", arguments: [node] };
      return item;
    }
    if (node.kind === "error") {
      const item = new vscode.TreeItem(node.message, vscode.TreeItemCollapsibleState.None);
      item.iconPath = new vscode.ThemeIcon("error", new vscode.ThemeColor("errorForeground"));
      item.tooltip = node.message;
      item.contextValue = "error";
      item.command = { command: "rstudioPool.showOutput", title: "Show Output" };
      return item;
    }
    if (node.kind === "detail") {
      const item = new vscode.TreeItem(node.line.label, vscode.TreeItemCollapsibleState.None);
      item.description = node.line.value;
      item.id = `${node.parent}/${node.line.label}`;
      item.contextValue = "detail";
      return item;
    }
    const row = instanceRow(node.instance, this.now());
    const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = row.instanceId;
    // An instance a batch job runs on says so (the backend lists it among mine while it runs).
    const jobId = node.instance.jobId;
    const job = jobId ? this.jobs?.find(jobId) : this.jobs?.jobs.find((j) => j.instanceId === row.instanceId && isJobActive(j));
    const runsJob = row.contextValue !== "instance.ended" && (job ? isJobActive(job) : Boolean(jobId));
    item.description = runsJob ? `job ${job?.scriptName ?? jobId} · ${row.description}` : row.description;
    item.tooltip = row.tooltip;
    item.contextValue = row.contextValue;
    // A running instance shows its app (RStudio's VM, Jupyter's notebook); other states their state.
    item.iconPath = row.icon === "running" && mainApp(node.instance) !== "rstudio" ? new vscode.ThemeIcon(appIcon(mainApp(node.instance)), new vscode.ThemeColor("testing.iconPassed")) : ICONS[row.icon];
    if (row.contextValue === "instance.running") {
      item.command = { command: "rstudioPool.openInEditor", title: "Open in Editor", arguments: [node] };
    }
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
