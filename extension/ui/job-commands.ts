/**
 * The job and keep-alive commands: Run R Script on Pool (an .R file from the editor title, the
 * Explorer or the palette), Cancel Job and Show Job Log (a row of the Jobs node, or a pick),
 * Keep Alive Until Job Ends (a running instance) and End Keep-Alive Hold (the status bar).
 */
import * as vscode from "vscode";
import type { InstanceView } from "../../contract";
import type { JobView } from "../../contract/jobs";
import { COMMANDS } from "../command-ids";
import { describeFailure, isCancel } from "../core/errors";
import { formatMoney } from "../core/format";
import { isJobActive, jobRow } from "../core/jobs/job-tree-model";
import { formatEnvInput, isRScript, parseEnvInput, scriptJobRequest, validateEnvInput, validateMaxHours, validatePid } from "../core/jobs/run-input";
import { resolveInstance } from "./commands";
import { showFailure } from "./notify";
import type { Services } from "./services";
import type { Node } from "./tree-provider";

type JobTarget = Node | string | undefined;

/** The purpose a job runs on: the setting, the only one, or a pick (the last used one first). */
async function pickJobPurpose(s: Services): Promise<string | undefined | null> {
  const { purposes, defaultPurpose } = await s.client.purposes();
  const configured = s.settings().defaultPurpose;
  if (configured && purposes.some((p) => p.name === configured)) return configured;
  if (purposes.length <= 1) return purposes[0]?.name ?? defaultPurpose;
  const last = s.context.workspaceState.get<string>("rstudioPool.lastJobPurpose");
  const preferred = purposes.some((p) => p.name === last) ? last : defaultPurpose;
  const ordered = [...purposes].sort((a, b) => Number(b.name === preferred) - Number(a.name === preferred));
  const pick = await vscode.window.showQuickPick(
    ordered.map((p) => ({
      label: p.name,
      description: p.hourlyPrice === null ? "price unknown" : `${formatMoney(p.hourlyPrice, p.currency)}/h`,
      detail: p.description || undefined,
    })),
    { title: "Run R Script on Pool", placeHolder: "Which kind of machine should run the script?", ignoreFocusOut: true },
  );
  return pick ? pick.label : null;
}

async function scriptDocument(uri: unknown): Promise<vscode.TextDocument | undefined> {
  if (uri instanceof vscode.Uri) return vscode.workspace.openTextDocument(uri);
  return vscode.window.activeTextEditor?.document;
}

export async function runScript(s: Services, uri?: unknown): Promise<void> {
  if (!(await s.requireToken())) return;
  const doc = await scriptDocument(uri);
  if (!doc) {
    void vscode.window.showInformationMessage("Open an R script (.R) first, or right-click one in the Explorer and choose \"Run R Script on Pool\".");
    return;
  }
  const fileName = doc.isUntitled ? "script.R" : doc.fileName;
  const base = fileName.split(/[\\/]/).pop()!;
  if (!isRScript(fileName) && doc.languageId !== "r") {
    void vscode.window.showWarningMessage(`${base} is not an R script: Run R Script on Pool runs .R files with Rscript.`);
    return;
  }
  const text = doc.getText();
  if (!text.trim()) {
    void vscode.window.showWarningMessage(`${base} is empty: there is nothing to run.`);
    return;
  }
  let purpose: string | undefined | null;
  try {
    purpose = await pickJobPurpose(s);
  } catch (err) {
    return showFailure(describeFailure("list", "the purposes", err), () => runScript(s, uri));
  }
  if (purpose === null) return;
  const envText = await vscode.window.showInputBox({
    title: `Run ${base} on ${purpose ?? "the pool"}`,
    prompt: "Environment variables for the job (optional): NAME=value, separated by ;",
    placeHolder: "MODEL_CONFIG=small.yaml; SEED=7",
    value: s.jobs.lastEnv.get(fileName) ?? "",
    ignoreFocusOut: true,
    validateInput: validateEnvInput,
  });
  if (envText === undefined) return;
  const env = parseEnvInput(envText);
  if (!env.ok) return; // validateInput kept the box open; unreachable
  s.jobs.lastEnv.set(fileName, formatEnvInput(env.env));
  if (purpose) void s.context.workspaceState.update("rstudioPool.lastJobPurpose", purpose);
  if (doc.isDirty) s.log.info(`${base} has unsaved changes: the job runs the text as shown in the editor`);
  try {
    const job = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Submitting ${base} to ${purpose ?? "the pool"}…`, cancellable: true },
      (_p, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        return s.client.submitJob(scriptJobRequest(fileName, text, purpose ?? undefined, env.env), abort.signal).finally(() => sub.dispose());
      },
    );
    s.log.info(`submitted job ${job.jobId} (${job.scriptName}) to ${job.purpose}: ${job.state}`);
    s.jobs.submitted(job);
    if (job.state === "queued" && job.queuePosition !== null && job.queuePosition > 1) {
      void vscode.window.showInformationMessage(`Job ${job.scriptName ?? job.jobId} is queued (#${job.queuePosition} in line); its log opens in the Output panel when it starts.`);
    }
  } catch (err) {
    if (isCancel(err)) return;
    const f = describeFailure("run", `${base} on the pool`, err);
    s.log.error(f.message);
    return showFailure(f, () => runScript(s, uri));
  }
}

/** The job a command is about: its tree row, an id, or a pick among `filter`. */
async function resolveJob(s: Services, target: JobTarget, filter: (j: JobView) => boolean, what: string): Promise<JobView | undefined> {
  if (target && typeof target === "object" && target.kind === "job") return s.jobs.store.find(target.job.jobId) ?? target.job;
  if (typeof target === "string") return s.jobs.store.find(target) ?? (await s.client.job(target).catch(() => undefined));
  if (!s.jobs.store.hasLoaded) await s.jobs.poller.refresh();
  const candidates = s.jobs.store.jobs.filter(filter);
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(`You have no job ${what}. Run one with "Run R Script on Pool" on an .R file.`);
    return undefined;
  }
  if (candidates.length === 1) return candidates[0];
  const now = Date.now();
  const pick = await vscode.window.showQuickPick(
    candidates.map((j) => {
      const row = jobRow(j, now);
      return { label: row.label, description: row.description, detail: j.jobId, job: j };
    }),
    { placeHolder: `Which job${what ? ` ${what}` : ""}?` },
  );
  return pick?.job;
}

async function cancelJob(s: Services, target: JobTarget): Promise<void> {
  if (!(await s.requireToken())) return;
  const job = await resolveJob(s, target, isJobActive, "to cancel");
  if (!job) return;
  const name = job.scriptName ?? job.jobId;
  const ok = await vscode.window.showWarningMessage(
    `Cancel job ${name} (${job.purpose}, ${job.state})? ${job.state === "queued" ? "It will not start." : "Its R process is stopped; files it already wrote to your home stay."}`,
    { modal: true },
    "Cancel Job",
  );
  if (ok !== "Cancel Job") return;
  try {
    const after = await s.client.cancelJob(job.jobId);
    s.jobs.store.upsert(after);
    s.log.info(`cancelled job ${job.jobId}: ${after.state}`);
  } catch (err) {
    await showFailure(describeFailure("cancel", `job ${name}`, err));
  } finally {
    void s.jobs.poller.refresh();
  }
}

async function showJobLog(s: Services, target: JobTarget): Promise<void> {
  if (!(await s.requireToken())) return;
  const job = await resolveJob(s, target, () => true, "");
  if (job) s.jobs.openLog(job, true);
}

async function keepAliveUntilJobEnds(s: Services, target: Node | string | undefined): Promise<void> {
  if (!(await s.requireToken())) return;
  // Interactive instances only: a batch job's instance is held by its job already.
  const inst: InstanceView | undefined = await resolveInstance(s, target, (i) => i.state === "running" && !i.jobId);
  if (!inst) return;
  if (inst.jobId) {
    void vscode.window.showInformationMessage(`${inst.instanceId} runs job ${inst.jobId}: it is kept until that job ends already.`);
    return;
  }
  const current = s.jobs.holdOn(inst.instanceId);
  const pidText = await vscode.window.showInputBox({
    title: `Keep ${inst.purpose} alive until an R process ends (1/2)`,
    prompt: `The pid of the R process on ${inst.instanceId} to wait for: run Sys.getpid() in its R console`,
    placeHolder: "for example 12345",
    value: current ? String(current.pid) : "",
    ignoreFocusOut: true,
    validateInput: validatePid,
  });
  if (pidText === undefined) return;
  const hoursText = await vscode.window.showInputBox({
    title: `Keep ${inst.purpose} alive until an R process ends (2/2)`,
    prompt: `At most how many hours? The hold ends then even if R process ${pidText.trim()} still runs${inst.hourlyPrice !== null ? ` (${formatMoney(inst.hourlyPrice, inst.currency)}/h)` : ""}.`,
    value: "8",
    ignoreFocusOut: true,
    validateInput: validateMaxHours,
  });
  if (hoursText === undefined) return;
  const pid = Number(pidText.trim());
  const maxHours = Number(hoursText.trim());
  try {
    const hold = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Setting the keep-alive of ${inst.purpose}…` },
      () => s.client.keepAlive(inst.instanceId, { pid, maxHours }),
    );
    s.jobs.addHold(hold);
    s.log.info(`keep-alive on ${inst.instanceId}: until pid ${pid} ends, at most ${maxHours} h (until ${hold.until})`);
    void vscode.window.showInformationMessage(
      `${inst.purpose} (${inst.instanceId}) is kept while R process ${pid} runs, at most until ${hold.until.replace("T", " ").slice(0, 16)} UTC. The idle timeout does not apply until then.`,
    );
  } catch (err) {
    await showFailure(describeFailure("keep", `${inst.purpose} ${inst.instanceId} alive`, err), () => keepAliveUntilJobEnds(s, inst.instanceId));
  }
}

async function endKeepAlive(s: Services, target?: unknown): Promise<void> {
  const holds = s.jobs.activeHolds();
  let hold = typeof target === "string" ? s.jobs.holdOn(target) : holds.length === 1 ? holds[0] : undefined;
  if (!hold && holds.length > 1) {
    const pick = await vscode.window.showQuickPick(
      holds.map((h) => ({ label: h.instanceId, description: `R process ${h.pid} · until ${h.until.replace("T", " ").slice(0, 16)} UTC · ${formatMoney(h.costSoFar, h.currency)}`, hold: h })),
      { placeHolder: "End which keep-alive hold?" },
    );
    hold = pick?.hold;
  }
  if (!hold) {
    if (holds.length === 0) void vscode.window.showInformationMessage("No keep-alive hold is active.");
    return;
  }
  const ok = await vscode.window.showWarningMessage(
    `End the keep-alive of ${hold.instanceId} (R process ${hold.pid})? The instance stays yours; the idle timeout applies again.`,
    { modal: true },
    "End Hold",
  );
  if (ok !== "End Hold") return;
  try {
    s.jobs.endedByUser(await s.client.endKeepAlive(hold.instanceId));
  } catch (err) {
    await showFailure(describeFailure("end", `the keep-alive of ${hold.instanceId}`, err));
  }
}

export function jobCommandHandlers(s: Services) {
  return {
    [COMMANDS.runScript]: (uri?: unknown) => runScript(s, uri),
    [COMMANDS.cancelJob]: (t: JobTarget) => cancelJob(s, t),
    [COMMANDS.showJobLog]: (t: JobTarget) => showJobLog(s, t),
    [COMMANDS.keepAliveUntilJobEnds]: (t: Node | string | undefined) => keepAliveUntilJobEnds(s, t),
    [COMMANDS.endKeepAlive]: (t?: unknown) => endKeepAlive(s, t),
  } as const;
}
