/**
 * End to end, as a user: open the RStudio Pool view (welcome, empty tree), run "Claim RStudio"
 * from the command palette (progress notification, tree row, RStudio's page in a webview frame,
 * price per hour in the status bar), then release the instance from the tree's context menu
 * (row gone, tunnel closed, backend and the instance's process agree it is gone).
 */
import assert from "node:assert/strict";
import { PLACEHOLDER_TEXT } from "./support/backend";
import { portAccepts, releaseFromTree } from "./support/gestures";
import { e2eTest } from "./support/harness";
import { isAlive, waitFor } from "./support/processes";
import { Session } from "./support/session";

e2eTest("e2e: welcome view, claim from the palette, release from the tree", { timeout: 300_000 }, async (t) => {
  await Session.run({ name: "claim-release" }, async (s) => {
    const { wb } = s;
    let instanceId = "";
    let proxyPort = 0;

    await s.step(t, "1. the view shows its welcome content, then an empty tree", async () => {
      await wb.openPoolView();
      // Signed in by RSTUDIO_POOL_TOKEN, the user gets the "no instance yet" welcome.
      const welcome = await waitFor("the signed-in welcome content", async () => {
        const text = await wb.welcomeText();
        return /You have no RStudio instance yet/.test(text) ? text : null;
      }, { timeoutMs: 30_000 });
      assert.match(welcome, /Claim RStudio/);
      assert.deepEqual(await wb.treeRows(), []);
      assert.deepEqual(await s.api.liveInstances(), []);
      await wb.shot("welcome-empty-tree");
    });

    await s.step(t, "2. Claim RStudio from the command palette", async () => {
      await wb.runCommand("Claim RStudio");
      const progress = await wb.waitForNotification(/Claim RStudio/, 15_000);
      await wb.shot("claim-progress");
      assert.match(progress, /Claim RStudio/);

      const row = await waitFor("a running row in the tree", async () => (await wb.treeRows()).find((r) => /running/.test(r.text)), { timeoutMs: 60_000 });
      const live = await s.api.liveInstances();
      assert.equal(live.length, 1, "the backend has exactly one instance for the user");
      instanceId = live[0]!.instanceId;
      assert.equal(live[0]!.state, "running");
      assert.match(row.text, /^rstudio/);
      assert.match(row.text, /\$0\.42\/h/);
      assert.ok(row.label.includes(instanceId), `the row's details name ${instanceId}: ${row.label}`);

      const frame = await wb.frameWithText(PLACEHOLDER_TEXT, 60_000);
      // The page is that of the claimed instance, reached through asExternalUri (code-server's proxy).
      assert.equal((await frame.locator("#instance-id").innerText()).trim(), instanceId);
      const m = /\/proxy\/(\d+)\//.exec(frame.url());
      assert.ok(m, `the frame is served through code-server's port proxy: ${frame.url()}`);
      proxyPort = Number(m[1]);
      assert.ok(await portAccepts(proxyPort), "the local tunnel port accepts connections");
      assert.ok((await wb.editorTabs()).some((tab) => /RStudio/.test(tab)), "an RStudio editor tab is open");

      const status = await waitFor("the price per hour in the status bar", async () => (await wb.statusBar()).find((x) => /\$0\.42\/h/.test(x)), { timeoutMs: 30_000 });
      assert.match(status, /^1 · \$0\.42\/h/);
      await wb.shot("claimed-rstudio");
    });

    await s.step(t, "4. Release from the tree's context menu", async () => {
      assert.ok(instanceId, "scenario 2 claimed an instance");
      const local = s.backend.localInstances();
      assert.equal(local.length, 1);
      const pids = local.map((i) => i.pid);
      assert.notEqual(proxyPort, local[0]!.port, "the page goes through the extension's tunnel, not straight to the instance");
      const releasedToast = wb.waitForNotification(/Released RStudio \(rstudio\)/, 40_000);
      releasedToast.catch(() => undefined); // awaited below; do not let an early failure go unhandled
      const question = await releaseFromTree(s);
      assert.match(question, new RegExp(`Release RStudio \\(rstudio, ${instanceId}\\)\\?`));

      // The running row goes; the tree keeps the ended instance ("released (user)", greyed)
      // as the backend lists ended instances for a day, so the user sees what happened.
      // The tree redraws after the release answer comes back: wait for the row to show it ended.
      const ended = await waitFor(
        "the tree to show the ended instance",
        async () => (await wb.treeRows()).find((r) => r.label.includes(instanceId!) && /(released|terminated) \(user\)/.test(r.text)),
        { timeoutMs: 20_000 },
      );
      assert.match(ended.text, /(released|terminated) \(user\)/);
      await releasedToast;
      await wb.shot("released");

      const gone = await waitFor("the backend to terminate it", async () => {
        const i = await s.api.instance(instanceId);
        return i.state === "terminated" ? i : null;
      }, { timeoutMs: 30_000 });
      assert.equal(gone.stateReason, "user");
      assert.ok(gone.endedAt);
      assert.deepEqual(await s.api.liveInstances(), [], "the backend lists no live instance");
      await waitFor("the instance's process to end", () => !pids.some(isAlive), { timeoutMs: 15_000 });
      await waitFor("the tunnel port to close", async () => !(await portAccepts(proxyPort)), { timeoutMs: 15_000 });
      assert.ok(!(await wb.editorTabs()).some((tab) => /RStudio/.test(tab)), "the RStudio tab is closed");
    });
  });
});
