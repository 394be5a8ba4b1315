/** The command handlers: each one turns a user action into calls on the services. */
import * as vscode from "vscode";
import type { AppName, InstanceView, PurposeView } from "../../contract";
import { appTitle, instanceApps, mainApp, purposeServes } from "../core/apps";
import { COMMANDS, type CommandId } from "../command-ids";
import { STAGE_TITLES } from "../core/claim-flow";
import { costDetailsMarkdown } from "../core/cost-indicator";
import { describeFailure, ExtensionError } from "../core/errors";
import { describeTunnelFailure, TunnelOpenError } from "../core/tunnel-failure";
import { formatMoney } from "../core/format";
import { instanceRow } from "../core/instance-tree-model";
import { jobCommandHandlers } from "./job-commands";
import { showFailure } from "./notify";
import type { Services } from "./services";
import type { Node } from "./tree-provider";

type Target = Node | string | undefined;

/** The instance a command is about: the tree row it was run on, an id, or (from the palette) a pick. */
export async function resolveInstance(s: Services, target: Target, filter: (i: InstanceView) => boolean): Promise<InstanceView | undefined> {
  if (target && typeof target === "object" && target.kind === "instance") return s.store.find(target.instance.instanceId) ?? target.instance;
  if (typeof target === "string") {
    return s.store.find(target) ?? (await s.client.instance(target).catch(() => undefined));
  }
  if (!s.store.hasLoaded) await s.poller.refresh();
  const candidates = s.store.instances.filter(filter);
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage("You have no RStudio instance for this. Claim one with \"RStudio Pool: Claim RStudio\".", "Claim RStudio").then((p) => {
      if (p) void vscode.commands.executeCommand(COMMANDS.claim);
    });
    return undefined;
  }
  if (candidates.length === 1) return candidates[0];
  const now = Date.now();
  const pick = await vscode.window.showQuickPick(
    candidates.map((i) => {
      const row = instanceRow(i, now);
      return { label: row.label, description: row.description, detail: i.instanceId, instance: i };
    }),
    { placeHolder: "Which RStudio instance?" },
  );
  return pick?.instance;
}

/**
 * The purposes that serve the app, each shown with its apps and price. Claim RStudio falls back
 * to every purpose when none serves RStudio (a Jupyter-only pool); Claim Jupyter says there is none.
 */
async function choosePurpose(s: Services, app: AppName): Promise<string | undefined | null> {
  const { purposes: all, defaultPurpose } = await s.client.purposes();
  const serving = all.filter((p) => purposeServes(p, app));
  if (serving.length === 0 && app === "jupyter") {
    const pick = await vscode.window.showInformationMessage("No purpose of this RStudio Pool serves Jupyter. Ask your admin for one (a purpose with app: jupyter), or claim RStudio.", "Claim RStudio");
    if (pick) void vscode.commands.executeCommand(COMMANDS.claim);
    return null;
  }
  const purposes = serving.length ? serving : all;
  const configured = s.settings().defaultPurpose;
  if (configured && purposes.some((p) => p.name === configured)) return configured;
  if (purposes.length <= 1) return purposes[0]?.name ?? defaultPurpose;
  const price = (p: PurposeView) => (p.hourlyPrice === null ? "price unknown" : `${formatMoney(p.hourlyPrice, p.currency)}/h`);
  const apps = (p: PurposeView) => (p.apps?.length ? p.apps.map((a) => appTitle(a.app)) : [appTitle(mainApp(p))]).join(" + ");
  const pick = await vscode.window.showQuickPick(
    purposes.map((p) => ({ label: p.name, description: `${apps(p)} · ${price(p)}`, detail: p.description || undefined, picked: p.name === defaultPurpose })),
    { placeHolder: `Which kind of ${appTitle(app)} do you need?`, title: `Claim ${appTitle(app)}` },
  );
  return pick ? pick.label : null; // null: the user dismissed the pick
}

async function claim(s: Services, purposeArg?: string, app: AppName = "rstudio"): Promise<void> {
  if (!(await s.requireToken())) return;
  let purpose: string | undefined | null;
  try {
    purpose = purposeArg ?? (await choosePurpose(s, app));
  } catch (err) {
    return showFailure(describeFailure("list", "the purposes", err), () => claim(s, purposeArg, app));
  }
  if (purpose === null) return;
  const title = `Claim ${appTitle(app)}`;
  try {
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        try {
          return await s.claimFlow.run(
            purpose ?? undefined,
            (stage, inst) => {
              if (inst) s.store.upsert(inst);
              const text = stage === "ready" && inst ? `${appTitle(mainApp(inst))} ready` : STAGE_TITLES[stage];
              progress.report({ message: `${text}${inst && stage !== "ready" ? ` (${inst.instanceType ?? inst.purpose})` : ""}…` });
            },
            abort.signal,
            app,
          );
        } finally {
          sub.dispose();
        }
      },
    );
    void s.poller.refresh();
    void s.costPoller.refresh();
    if (outcome.kind === "cancelled") return;
    s.log.info(`${appTitle(outcome.app)} ready: ${outcome.instance.instanceId} on 127.0.0.1:${outcome.localPort}`);
    if (s.settings().openIn === "browser") await s.openInBrowser(outcome.instance.instanceId, outcome.app);
    else await s.panels.createOrShow(outcome.instance, outcome.app);
  } catch (err) {
    void s.poller.refresh();
    if (err instanceof TunnelOpenError) {
      // Retrying must not claim again: it reopens this instance's tunnel.
      const f = describeTunnelFailure(err);
      s.log.error(f.message);
      return showFailure(f, () => s.panels.createOrShow(err.instance));
    }
    const f = describeFailure("claim", appTitle(app), err);
    s.log.error(f.message);
    return showFailure(f, () => claim(s, purposeArg, app));
  }
}

/** The app to open on an instance that serves more than one (RStudio and Jupyter side by side). */
async function pickApp(inst: InstanceView): Promise<AppName | undefined> {
  const apps = instanceApps(inst);
  if (apps.length === 1) return apps[0];
  const pick = await vscode.window.showQuickPick(
    apps.map((app) => ({ label: appTitle(app), app })),
    { placeHolder: `Open which app of ${inst.purpose} (${inst.instanceId})?` },
  );
  return pick?.app;
}

async function release(s: Services, target: Target): Promise<void> {
  if (!(await s.requireToken())) return;
  const inst = await resolveInstance(s, target, (i) => ["running", "launching", "booting"].includes(i.state));
  if (!inst) return;
  const name = appTitle(mainApp(inst));
  const ok = await vscode.window.showWarningMessage(
    `Release ${name} (${inst.purpose}, ${inst.instanceId})? The instance is terminated; unsaved work in its R session is lost. Files in your home directory are kept.`,
    { modal: true },
    "Release",
  );
  if (ok !== "Release") return;
  try {
    s.watcher.expectEnd(inst.instanceId);
    const released = await s.client.release(inst.instanceId);
    s.store.upsert(released);
    await s.tunnels.close(inst.instanceId);
    s.panels.close(inst.instanceId);
    s.log.info(`released ${inst.instanceId}`);
    void vscode.window.showInformationMessage(`Released ${name} (${inst.purpose}). It stops costing money now.`);
  } catch (err) {
    await showFailure(describeFailure("release", `${name} ${inst.instanceId}`, err));
  } finally {
    void s.poller.refresh();
    void s.costPoller.refresh();
  }
}

async function signIn(s: Services): Promise<void> {
  const token = await vscode.window.showInputBox({
    title: "RStudio Pool: Sign In",
    prompt: `API token for ${s.settings().backendUrl} (ask your admin: rstudio-pool user token <you>)`,
    password: true,
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : "Paste the API token"),
  });
  if (!token) return;
  await s.tokens.set(token);
  try {
    const me = await s.client.me();
    s.log.info(`signed in as ${me.userId}`);
    void vscode.window.showInformationMessage(`Signed in to the RStudio Pool as ${me.userId}.`);
  } catch (err) {
    if (err instanceof ExtensionError && err.code === "UNAUTHORIZED") await s.tokens.clear();
    await showFailure(describeFailure("sign in to", "the RStudio Pool", err));
  }
}

async function signOut(s: Services): Promise<void> {
  await s.tokens.clear();
  s.panels.dispose();
  await s.tunnels.closeAllExcept(new Set());
  s.log.info("signed out");
  const envToken = await s.tokens.get();
  void vscode.window.showInformationMessage(
    envToken ? "Removed the stored token; the RSTUDIO_POOL_TOKEN environment variable still signs you in." : "Signed out of the RStudio Pool. Your instances keep running until released or reaped.",
  );
}

async function showCosts(s: Services): Promise<void> {
  if (!(await s.requireToken())) return;
  try {
    const costs = await s.client.costs();
    s.costs = costs;
    const doc = await vscode.workspace.openTextDocument({ language: "markdown", content: costDetailsMarkdown(costs, new Date()) });
    await vscode.window.showTextDocument(doc, { preview: true });
  } catch (err) {
    await showFailure(describeFailure("load", "your costs", err), () => showCosts(s));
  }
}

async function showDetails(s: Services, target: Target): Promise<void> {
  const inst = await resolveInstance(s, target, () => true);
  if (!inst) return;
  const row = instanceRow(inst, Date.now());
  const lines = [`# RStudio: ${inst.purpose}`, "", ...row.details.map((d) => `- **${d.label}:** ${d.value}`), "", "```json", JSON.stringify(inst, null, 2), "```"];
  const doc = await vscode.workspace.openTextDocument({ language: "markdown", content: lines.join("\n") });
  await vscode.window.showTextDocument(doc, { preview: true });
}

export function registerCommands(s: Services): vscode.Disposable[] {
  const handlers: Record<CommandId, (...args: any[]) => unknown> = {
    [COMMANDS.claim]: (purpose?: unknown) => claim(s, typeof purpose === "string" ? purpose : undefined),
    [COMMANDS.claimJupyter]: (purpose?: unknown) => claim(s, typeof purpose === "string" ? purpose : undefined, "jupyter"),
    [COMMANDS.release]: (t: Target) => release(s, t),
    [COMMANDS.refresh]: async () => {
      await Promise.all([s.poller.refresh(), s.costPoller.refresh(), s.jobs.refresh()]);
    },
    [COMMANDS.signIn]: () => signIn(s),
    [COMMANDS.signOut]: () => signOut(s),
    [COMMANDS.showCosts]: () => showCosts(s),
    [COMMANDS.showOutput]: () => s.output.show(true),
    [COMMANDS.openInEditor]: async (t: Target) => {
      const inst = await resolveInstance(s, t, (i) => i.state === "running");
      const app = inst && (await pickApp(inst));
      if (inst && app) await s.panels.createOrShow(inst, app);
    },
    [COMMANDS.openInBrowser]: async (t: Target) => {
      const inst = await resolveInstance(s, t, (i) => i.state === "running");
      const app = inst && (await pickApp(inst));
      if (inst && app) await s.openInBrowser(inst.instanceId, app);
    },
    [COMMANDS.copyInstanceId]: async (t: Target) => {
      const inst = await resolveInstance(s, t, () => true);
      if (!inst) return;
      await vscode.env.clipboard.writeText(inst.instanceId);
      void vscode.window.setStatusBarMessage(`Copied ${inst.instanceId}`, 3000);
    },
    [COMMANDS.showDetails]: (t: Target) => showDetails(s, t),
    ...jobCommandHandlers(s),
  };
  return Object.entries(handlers).map(([id, fn]) => vscode.commands.registerCommand(id, fn));
}

/** vscode://rstudio-pool.rstudio-pool/claim?purpose=x and /open?instance=id */
export function uriHandler(s: Services): vscode.UriHandler {
  return {
    handleUri(uri: vscode.Uri) {
      const q = new URLSearchParams(uri.query);
      s.log.info(`opened by URI ${uri.path}`);
      if (uri.path === "/claim") void claim(s, q.get("purpose") ?? undefined, q.get("app") === "jupyter" ? "jupyter" : "rstudio");
      else if (uri.path === "/open" && q.get("instance")) void vscode.commands.executeCommand(COMMANDS.openInEditor, q.get("instance"));
      else void vscode.window.showWarningMessage(`RStudio Pool does not know the link ${uri.path}; use /claim or /open?instance=<id>.`);
    },
  };
}
