/** The status-bar cost indicator: draws the CostIndicator model; a click shows the cost details. */
import * as vscode from "vscode";
import type { CostsResponse } from "../../contract";
import { COMMANDS } from "../command-ids";
import { costIndicator } from "../core/cost-indicator";
import type { Failure } from "../core/errors";

export class CostStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("rstudioPool.costs", vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.item.name = "RStudio Pool Costs";
    this.item.command = COMMANDS.showCosts;
    this.update(null, null);
  }

  update(costs: CostsResponse | null, failure: Failure | null): void {
    const view = costIndicator(costs, failure);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor =
      view.colour === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : view.colour === "warning" ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
  }

  setSignedIn(signedIn: boolean): void {
    if (signedIn) this.item.show();
    else this.item.hide();
  }

  dispose(): void {
    this.item.dispose();
  }
}
