/**
 * End to end with a real Jupyter: the backend's `auto` runtime runs Jupyter Notebook with the R
 * kernel for a purpose whose app is jupyter. As a user: "Claim Jupyter" from the palette, the
 * notebook UI renders inside the webview, create an R notebook from the New menu, run a cell, see
 * its output, release the instance from the tree. code-server serves the tunnel's port through its
 * domain proxy at http://<port>.localhost:<its port>/: Jupyter's pages use absolute paths, which
 * the default path proxy /proxy/<port>/ breaks. See docs/jupyter.md.
 * Needs the e2e harness and Jupyter + IRkernel: skipped loudly without them, a failure when
 * E2E_REQUIRED=1 or JUPYTER_REQUIRED=1 / CI=true.
 */
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import path from "node:path";
import type { Frame } from "playwright-core";
import { portAccepts, releaseFromTree } from "./support/gestures";
import { e2eTest, REPO_ROOT } from "./support/harness";
import { isAlive, waitFor } from "./support/processes";
import { Session } from "./support/session";
import { jupyterProbe, jupyterRequired } from "../support/jupyter";

const TREE_TEXT = "Select items to perform actions on them.";

async function frameWhere(s: Session, what: string, test: (f: Frame) => Promise<boolean>, timeoutMs: number): Promise<Frame> {
  return waitFor(what, async () => {
    for (const f of s.wb.page.frames()) if (await test(f).catch(() => false)) return f;
    return null;
  }, { timeoutMs, intervalMs: 250 });
}

e2eTest("e2e: Claim Jupyter, an R notebook runs a cell in the webview, release", { timeout: 420_000 }, async (t) => {
  const found = await jupyterProbe();
  if (!found.ok) {
    const why = `Jupyter with the R kernel is not usable here: ${found.reason}. Install it with: bash scripts/ci/deps/jupyter.sh`;
    if (jupyterRequired()) throw new Error(`${why} (JUPYTER_REQUIRED=1 or CI=true)`);
    process.stderr.write(`\n${"!".repeat(100)}\n!! JUPYTER E2E SKIPPED: ${why}\n${"!".repeat(100)}\n\n`);
    t.skip(`JUPYTER NOT RUN: ${why}`);
    return;
  }
  await Session.run(
    {
      name: "jupyter",
      backend: {
        purposes: [
          { name: "rstudio", description: "RStudio Server (e2e)", hourlyPrice: 0.42, idleTimeoutSeconds: 600, max: 1 },
          { name: "notebooks", app: "jupyter", description: "Jupyter Notebook with R (e2e)", hourlyPrice: 0.3, idleTimeoutSeconds: 600, max: 1 },
        ],
        env: { POOL_LOCAL_RUNTIME: "auto" },
      },
      // Ports as subdomains: http://<port>.e2e.localhost:<code-server port>/ (Chromium resolves
      // *.localhost to loopback). The workbench is on the same site (vscode.e2e.localhost): the
      // test's browser profile, like incognito windows, refuses third-party cookies, and the
      // notebook UI's POSTs need Jupyter's _xsrf cookie.
      vscodeArgs: (port) => ["--proxy-domain", `{{port}}.e2e.localhost:${port}`],
      vscodeHost: "vscode.e2e.localhost",
    },
    async (s) => {
      const { wb } = s;
      let instanceId = "";
      let frame: Frame | null = null;

      await s.step(t, "1. the welcome offers Claim Jupyter beside Claim RStudio", async () => {
        await wb.openPoolView();
        const welcome = await waitFor("the welcome with Claim Jupyter", async () => {
          const text = await wb.welcomeText();
          return /Claim Jupyter/.test(text) ? text : null;
        }, { timeoutMs: 30_000 });
        assert.match(welcome, /Claim RStudio/);
        await wb.shot("welcome-with-jupyter");
      });

      await s.step(t, "2. Claim Jupyter from the palette: the notebook UI renders in the webview", async () => {
        await wb.runCommand("Claim Jupyter");
        const progress = await wb.waitForNotification(/Claim Jupyter/, 15_000);
        assert.match(progress, /Claim Jupyter/);
        const row = await waitFor("a running row", async () => (await wb.treeRows()).find((r) => /running/.test(r.text)), { timeoutMs: 120_000 });
        assert.match(row.text, /^notebooks/, "Claim Jupyter took the Jupyter purpose without asking");
        const live = await s.api.liveInstances();
        assert.equal(live.length, 1);
        instanceId = live[0]!.instanceId;
        assert.equal(live[0]!.app, "jupyter");
        assert.equal(live[0]!.instanceType, "local-jupyter", "the local provider runs the real Jupyter");

        frame = await wb.frameWithText(TREE_TEXT, 90_000);
        assert.match(frame.url(), /^http:\/\/\d+\.e2e\.localhost:\d+\/tree/, `served through code-server's domain proxy: ${frame.url()}`);
        const port = Number(/^http:\/\/(\d+)\./.exec(frame.url())![1]);
        assert.ok(await portAccepts(port), "the extension's tunnel port");
        assert.notEqual(port, s.backend.localInstances()[0]!.port, "the page goes through the tunnel, not straight to Jupyter");
        assert.ok((await wb.editorTabs()).some((tab) => /Jupyter: notebooks/.test(tab)), `a "Jupyter: notebooks" tab: ${await wb.editorTabs()}`);
        await wb.shot("claimed-jupyter-tree");
      });

      await s.step(t, "3. New → R creates an R notebook in the same frame; a cell runs and shows its output", async () => {
        assert.ok(frame, "step 2 found the frame");
        await frame!.locator("#new-dropdown-button").click();
        await frame!.locator("#kernel-ir a").click();
        const nb = await frameWhere(s, "the notebook page", async (f) => /\/notebooks\/Untitled[^/]*\.ipynb/.test(f.url()) && (await f.locator(".CodeMirror").count()) > 0, 60_000);
        await waitFor("the R kernel to be idle", async () => (await nb.locator("#kernel_indicator_icon.kernel_idle_icon").count()) > 0 && /R/.test(await nb.locator(".kernel_indicator_name").innerText()), { timeoutMs: 90_000 });
        await nb.locator(".CodeMirror").first().click();
        await wb.page.keyboard.type('cat(R.version.string, "\\n"); print(1 + 1)');
        await nb.locator('[data-jupyter-action="jupyter-notebook:run-cell-and-select-next"]').first().click();
        const out = await waitFor("the cell's output", async () => {
          const text = (await nb.locator(".output_area").allInnerTexts()).join("\n");
          return /\[1\] 2/.test(text) ? text : null;
        }, { timeoutMs: 60_000 });
        assert.match(out, /R version 4\.\d+\.\d+/);
        const shot = await wb.shot("jupyter-r-notebook");
        if (process.env.E2E_SAVE_DOC_IMAGES === "1") copyFileSync(shot, path.join(REPO_ROOT, "docs", "images", "e2e-jupyter-r-notebook.png"));
      });

      await s.step(t, "4. release from the tree: Jupyter's process ends", async () => {
        const local = s.backend.localInstances();
        assert.equal(local.length, 1);
        const question = await releaseFromTree(s);
        assert.match(question, new RegExp(`Release Jupyter \\(notebooks, ${instanceId}\\)\\?`));
        await waitFor("the backend to say terminated", async () => (await s.api.instances()).find((i) => i.instanceId === instanceId)?.state === "terminated", { timeoutMs: 30_000 });
        await waitFor("Jupyter's process to end", async () => !isAlive(local[0]!.pid), { timeoutMs: 15_000 });
        await wb.shot("released-jupyter");
      });
    },
  );
});
