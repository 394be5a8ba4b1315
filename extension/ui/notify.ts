/** Error and event notifications with a next step: each Failure action becomes a button. */
import * as vscode from "vscode";
import { COMMANDS } from "../command-ids";
import { PLUGIN_INSTALL_URL, type Failure, type NextAction } from "../core/errors";

const LABELS: Record<NextAction, string> = {
  signIn: "Sign In",
  showOutput: "Show Output",
  claim: "Claim a new one",
  openSettings: "Open Settings",
  installPlugin: "Install session-manager-plugin",
  retry: "Retry",
};

export async function showFailure(f: Failure, retry?: () => unknown): Promise<void> {
  const actions = f.actions.filter((a) => a !== "retry" || retry);
  if (!actions.includes("showOutput")) actions.push("showOutput");
  const picked = await vscode.window.showErrorMessage(f.message, ...actions.map((a) => LABELS[a]));
  const action = actions.find((a) => LABELS[a] === picked);
  switch (action) {
    case "signIn":
      return void vscode.commands.executeCommand(COMMANDS.signIn);
    case "showOutput":
      return void vscode.commands.executeCommand(COMMANDS.showOutput);
    case "claim":
      return void vscode.commands.executeCommand(COMMANDS.claim);
    case "openSettings":
      return void vscode.commands.executeCommand("workbench.action.openSettings", f.setting ?? "rstudioPool");
    case "installPlugin":
      return void vscode.env.openExternal(vscode.Uri.parse(PLUGIN_INSTALL_URL));
    case "retry":
      return void retry?.();
  }
}
