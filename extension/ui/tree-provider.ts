/** Draws the InstanceTreeModel rows in the "My Instances" tree; owns its change event. */
import * as vscode from "vscode";
import type { InstanceView } from "../../contract";
import { appIcon, mainApp } from "../core/apps";
import { instanceRow, type DetailLine, type InstanceRow, type RowIcon } from "../core/instance-tree-model";
import type { InstanceStore } from "../core/instance-store";
import { instanceRows } from "../core/instance-tree-model";

export type Node = { kind: "instance"; row: InstanceRow; instance: InstanceView } | { kind: "detail"; parent: string; line: DetailLine } | { kind: "error"; message: string };

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
      return nodes;
    }
    if (node.kind === "instance") return node.row.details.map((line) => ({ kind: "detail", parent: node.row.instanceId, line }));
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
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
    item.description = row.description;
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
