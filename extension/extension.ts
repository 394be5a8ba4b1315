/**
 * Entry point of the RStudio Pool extension: builds the one service container, registers the
 * commands and the URI handler, and hands every disposable to context.subscriptions. All logic
 * lives in plain classes under core/ (tested without VS Code); ui/ is the thin VS Code layer.
 */
import * as vscode from "vscode";
import { registerCommands, uriHandler } from "./ui/commands";
import { Services } from "./ui/services";

let services: Services | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const started = Date.now();
  const s = new Services(context);
  services = s;
  context.subscriptions.push(s, ...registerCommands(s), vscode.window.registerUriHandler(uriHandler(s)));
  // Network work starts after activation returns, so activation stays fast.
  void s.start();
  s.log.info(`activated in ${Date.now() - started} ms (backend ${s.settings().backendUrl})`);
}

/** Waits until every tunnel process has exited: no child outlives the extension. */
export async function deactivate(): Promise<void> {
  const s = services;
  services = undefined;
  await s?.shutdown();
}
