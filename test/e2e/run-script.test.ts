/**
 * A batch R job end to end, as a user runs it: an .R file open in the editor, "Run R Script on
 * Pool" from the palette with an environment variable typed into the input box, the job's log
 * appearing in its output channel as real Rscript prints it (local provider), the job ending,
 * and the notification that says so with its exit code and cost (what the backend charged).
 * Needs the e2e harness and Rscript: skipped loudly without them, failed under E2E_REQUIRED=1
 * (or R_REQUIRED=1 / CI=true for R).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import type { JobListResponse, JobView } from "../../contract/jobs";
import { formatMoney } from "../../extension/core/format";
import { killJobProcesses } from "../support/jobs";
import { DEFAULT_PURPOSE } from "./support/backend";
import { e2eTest } from "./support/harness";
import { sleep, waitFor } from "./support/processes";
import { Session } from "./support/session";

/** Dear enough per hour that a few seconds of it shows in cents. */
const HOURLY_PRICE = 36;

const MODEL_R = [
  'cfg <- Sys.getenv("MODEL_CONFIG")',
  'cat("model config:", cfg, "\\n")',
  "for (i in 1:3) { cat(\"iteration\", i, \"\\n\"); Sys.sleep(1) }",
  'writeLines(paste("result", 6 * 7), "result.txt")',
  'cat("done: result", 6 * 7, "\\n")',
  "",
].join("\n");

function rMissing(): string | null {
  const r = spawnSync("Rscript", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? null : "Rscript is not installed (apt-get install r-base-core)";
}

/** The text of the Output panel's editor (the channel it shows). */
async function outputText(page: Page): Promise<string> {
  const lines = page.locator('[id="workbench.panel.output"] .view-lines');
  if (!(await lines.count())) return "";
  return (await lines.first().innerText()).replace(/\u00a0/g, " ");
}

async function jobs(s: Session): Promise<JobView[]> {
  const res = await fetch(`${s.backend.url}/v1/jobs`, { headers: { authorization: `Bearer ${s.userToken}` } });
  if (!res.ok) throw new Error(`GET /v1/jobs: HTTP ${res.status}: ${await res.text()}`);
  return ((await res.json()) as JobListResponse).jobs;
}

e2eTest("e2e: Run R Script on Pool on an open .R file, its log, its end with the cost", { timeout: 420_000 }, async (t) => {
  const noR = rMissing();
  if (noR) {
    if (process.env.E2E_REQUIRED === "1" || process.env.R_REQUIRED === "1" || process.env.CI === "true") throw new Error(`${noR} (E2E_REQUIRED/R_REQUIRED/CI)`);
    process.stderr.write(`\n${"!".repeat(100)}\n!! E2E SKIPPED: run-script: ${noR}\n${"!".repeat(100)}\n\n`);
    t.skip(`E2E NOT RUN: ${noR}`);
    return;
  }
  const purposes = [{ ...DEFAULT_PURPOSE, hourlyPrice: HOURLY_PRICE, max: 2 }];
  await Session.run({ name: "run-script", backend: { purposes } }, async (s) => {
    const { wb } = s;
    let job: JobView | undefined;
    try {

      await s.step(t, "1. open model.R in the editor", async () => {
        writeFileSync(path.join(s.vscode.workspace, "model.R"), MODEL_R);
        await wb.openPoolView();
        await wb.page.locator(".monaco-workbench").click({ position: { x: 640, y: 400 } }).catch(() => undefined);
        await wb.page.keyboard.press("Control+P");
        const input = wb.page.locator(".quick-input-widget input");
        await input.waitFor({ timeout: 10_000 });
        await input.fill("model.R");
        await wb.page.locator(".quick-input-widget .monaco-list-row").filter({ hasText: "model.R" }).first().waitFor({ timeout: 30_000 });
        await wb.page.keyboard.press("Enter");
        await waitFor("the model.R tab", async () => (await wb.editorTabs()).some((x) => /model\.R/.test(x)), { timeoutMs: 30_000 });
        // The editor's title bar offers the command on an R file.
        await wb.page.locator('.editor-actions [aria-label="Run R Script on Pool"], .editor-actions a[title="Run R Script on Pool"]').first().waitFor({ timeout: 30_000 });
        await wb.shot("model-r-open");
      });

      await s.step(t, "2. Run R Script on Pool with MODEL_CONFIG from the input box", async () => {
        await wb.runCommand("Run R Script on Pool");
        const input = wb.page.locator(".quick-input-widget input");
        await waitFor("the environment input box", async () => /Environment variables/.test(await wb.page.locator(".quick-input-widget").innerText().catch(() => "")), { timeoutMs: 30_000 });
        // Bad input is refused in place, with the reason.
        await input.fill("MODEL_CONFIG");
        await waitFor("the input box's complaint", async () => /not NAME=value/.test(await wb.page.locator(".quick-input-widget").innerText()), { timeoutMs: 10_000 });
        await wb.shot("env-input-invalid");
        await input.fill("MODEL_CONFIG=small.yaml");
        await sleep(300);
        await wb.shot("env-input");
        await wb.page.keyboard.press("Enter");
        const [j] = await waitFor("the job at the backend", async () => {
          const list = await jobs(s);
          return list.length ? list : null;
        }, { timeoutMs: 30_000 });
        job = j;
        assert.equal(job!.scriptName, "model.R");
        assert.equal(job!.purpose, "rstudio");
      });

      await s.step(t, "3. the log appears in the job's output channel", async () => {
        const text = await waitFor("the R output in the Output panel", async () => {
          const out = await outputText(wb.page);
          return /done: result 42/.test(out) ? out : null;
        }, { timeoutMs: 120_000, intervalMs: 500 });
        assert.match(text, new RegExp(`--- job ${job!.jobId}: model\\.R on rstudio`));
        assert.match(text, /model config: small\.yaml/, "the env reached the R process");
        assert.match(text, /iteration 1\s+iteration 2\s+iteration 3/);
        await wb.shot("job-log");
      });

      await s.step(t, "4. the job ends; the notification shows its exit code and cost", async () => {
        const toast = await wb.waitForNotification(/Job model\.R \(rstudio\) succeeded/, 90_000);
        const done = (await jobs(s)).find((j) => j.jobId === job!.jobId)!;
        assert.equal(done.state, "succeeded");
        assert.equal(done.exitCode, 0);
        assert.ok(done.cost > 0, `the backend charged the job (${done.cost})`);
        assert.match(toast, /succeeded: exit code 0, ran \d+s, cost \$[\d.]+\./);
        assert.ok(toast.includes(`cost ${formatMoney(done.cost, done.currency)}.`), `the notification shows the backend's cost ${done.cost}: ${toast}`);
        assert.match(toast, /Show Log/);
        await wb.shot("job-ended-notification");
        const footer = await waitFor("the closing line of the log", async () => {
          const out = await outputText(wb.page);
          return /--- job \S+ succeeded: exit code 0/.test(out) ? out : null;
        }, { timeoutMs: 30_000 });
        assert.match(footer, /cost \$/);
      });

      await s.step(t, "5. the Jobs node lists it with its state and cost", async () => {
        const row = await waitFor("the job's row under Jobs", async () => (await wb.treeRows()).find((r) => /^model\.R/.test(r.text) && /succeeded/.test(r.text)), { timeoutMs: 30_000 });
        assert.match(row.text, /succeeded \(exit 0\)/);
        assert.match(row.text, /\$\d/);
        const rows = await wb.treeRows();
        assert.ok(rows.some((r) => /Jobs/.test(r.label + r.text) && /1 ended/.test(r.label + r.text)), `the Jobs node sums up: ${JSON.stringify(rows)}`);
        // Its instance was released when it ended: the tree stops showing it running the job.
        await waitFor("the job's instance to leave 'running'", async () => !(await wb.treeRows()).some((r) => /job model\.R · running/.test(r.text)), { timeoutMs: 30_000 });
        await wb.shot("jobs-node");
      });

      await s.step(t, "6. a click on the job's row shows its log again", async () => {
        // Another channel in front first, so the click is what brings the job's log back.
        await wb.runCommand("RStudio Pool: Show Output");
        await waitFor("the RStudio Pool channel", async () => !/done: result 42/.test(await outputText(wb.page)), { timeoutMs: 15_000 });
        await wb.treeRow(/^model\.R/).first().click();
        const out = await waitFor("the job's log", async () => {
          const text = await outputText(wb.page);
          return /done: result 42/.test(text) ? text : null;
        }, { timeoutMs: 30_000 });
        assert.match(out, /--- job \S+ succeeded/);
        await wb.shot("log-from-tree");
      });
    } finally {
      // The backend leaves job processes to themselves (they survive its restarts): end any left.
      killJobProcesses(s.backend.dataDir);
    }
  });
});
