/**
 * Every command, view and panel id the extension registers, listed once. A unit test checks this
 * list against package.json both ways, so a renamed command cannot silently lose its menu entry.
 * (No `vscode` import: tests load this file directly.)
 */
export const COMMANDS = {
  claim: "rstudioPool.claim",
  claimJupyter: "rstudioPool.claimJupyter",
  release: "rstudioPool.release",
  refresh: "rstudioPool.refresh",
  signIn: "rstudioPool.signIn",
  signOut: "rstudioPool.signOut",
  showCosts: "rstudioPool.showCosts",
  showOutput: "rstudioPool.showOutput",
  openInEditor: "rstudioPool.openInEditor",
  openInBrowser: "rstudioPool.openInBrowser",
  copyInstanceId: "rstudioPool.copyInstanceId",
  showDetails: "rstudioPool.showDetails",
  runScript: "rstudioPool.runScript",
  cancelJob: "rstudioPool.cancelJob",
  showJobLog: "rstudioPool.showJobLog",
  keepAliveUntilJobEnds: "rstudioPool.keepAliveUntilJobEnds",
  endKeepAlive: "rstudioPool.endKeepAlive",
} as const;

export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS];
export const COMMAND_IDS: readonly CommandId[] = Object.values(COMMANDS);

export const VIEW_CONTAINER_ID = "rstudioPool";
export const TREE_VIEW_ID = "rstudioPool.instances";
export const PANEL_VIEW_TYPE = "rstudioPool.rstudio";
export const OUTPUT_CHANNEL_NAME = "RStudio Pool";
export const CONFIG_SECTION = "rstudioPool";

/** Context keys the package.json `when` clauses read. */
export const CONTEXT_KEYS = {
  signedIn: "rstudioPool.signedIn",
  hasInstances: "rstudioPool.hasInstances",
  /** The purposes list was fetched (until then Claim Jupyter stays offered). */
  purposesKnown: "rstudioPool.purposesKnown",
  /** Some purpose of the pool serves Jupyter. */
  hasJupyterPurpose: "rstudioPool.hasJupyterPurpose",
  /** A keep-alive hold (until an R process ends) is active on one of my instances. */
  hasKeepAlive: "rstudioPool.hasKeepAlive",
} as const;

/** The output channel of one job's log. */
export function jobChannelName(scriptName: string | null, jobId: string): string {
  return `RStudio Pool Job: ${scriptName ?? "script"} (${jobId})`;
}
