/**
 * End to end, as a user lives a spot interruption: RStudio claimed from the palette and open in
 * its webview, then the cloud takes the host back. The local provider plays the interruption
 * from a notice file beside the instance, in the format EC2's on-instance watcher writes. The
 * user is told at once (a warning, the tree row, progress while the new host starts) and, with
 * no gesture of theirs, the webview shows RStudio on the replacement the backend started; the
 * old instance ends and its process is gone.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Frame } from "playwright-core";
import { PLACEHOLDER_TEXT } from "./support/backend";
import { claimFromPalette } from "./support/gestures";
import { e2eTest } from "./support/harness";
import { isAlive, waitFor } from "./support/processes";
import { Session } from "./support/session";
import type { Workbench } from "./support/workbench";

const WARNING = /Your RStudio host is being reclaimed by AWS; your session is saved and a new host is starting/;
const PROGRESS = /Starting a new RStudio host/;

/** Keeps the text of every notification toast the workbench shows, in window.__rspToasts. */
const TOAST_RECORDER = `(() => {
  const w = window;
  w.__rspToasts = [];
  const look = () => {
    for (const el of document.querySelectorAll(".notifications-toasts .notification-list-item")) {
      const text = (el.textContent || "").replace(/\\s+/g, " ").trim();
      if (text && !w.__rspToasts.includes(text)) w.__rspToasts.push(text);
    }
  };
  new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true });
  look();
})()`;

/** The webview frame showing the placeholder page of `instanceId` (its `#instance-id`). */
async function frameOf(wb: Workbench, instanceId: string, timeoutMs: number): Promise<Frame> {
  return waitFor(`the page of ${instanceId} in a webview frame`, async () => {
    for (const f of wb.page.frames()) {
      const id = await f.evaluate<string>("(document.getElementById('instance-id') || {}).innerText || ''").catch(() => "");
      if (id.trim() === instanceId) return f;
    }
    return null;
  }, { timeoutMs, intervalMs: 250 });
}

e2eTest("e2e: a spot interruption moves RStudio to a new host by itself", { timeout: 420_000 }, async (t) => {
  await Session.run({ name: "spot-interruption" }, async (s) => {
    const { wb } = s;
    let oldId = "";
    let oldPid = 0;
    let noticeAt = 0;
    let newId = "";

    await s.step(t, "1. Claim RStudio from the palette; its page is open", async () => {
      const { instance, frame } = await claimFromPalette(s);
      oldId = instance.instanceId;
      assert.equal(instance.state, "running");
      assert.equal((await frame.locator("#instance-id").innerText()).trim(), oldId);
      const local = s.backend.localInstances().find((i) => i.instanceId === oldId);
      assert.ok(local, "the local provider runs the instance");
      oldPid = local.pid;
      assert.ok(isAlive(oldPid));
      await waitFor("a running row in the tree", async () => (await wb.treeRows()).find((r) => r.label.includes(oldId) && /running/.test(r.text)), { timeoutMs: 60_000 });
      await wb.shot("claimed-before-interruption");
    });

    await s.step(t, "2. the interruption notice: the user is told at once", async () => {
      assert.ok(oldId, "step 1 claimed an instance");
      // Record every toast from before the notice on: the local replacement boots in seconds,
      // so its progress toast can come and go between two looks.
      await wb.page.evaluate(TOAST_RECORDER);
      const seen = (match: RegExp) => waitFor(`a notification matching ${match}`, async () =>
        (await wb.page.evaluate<string[]>("window.__rspToasts")).find((n) => match.test(n)), { timeoutMs: 120_000, intervalMs: 100 });
      const warning = seen(WARNING);
      const progress = seen(PROGRESS);
      warning.catch(() => undefined);
      progress.catch(() => undefined);
      const notice = { kind: "interruption", notice: { action: "terminate", time: new Date(Date.now() + 120_000).toISOString() }, seenAt: new Date().toISOString() };
      noticeAt = Date.now();
      writeFileSync(path.join(s.backend.dataDir, "local-instances", `${oldId}.notice.json`), JSON.stringify(notice));

      const warned = await warning;
      await wb.shot("interruption-warning");
      assert.match(warned, WARNING);
      assert.match(await progress, PROGRESS);
      await wb.shot("replacement-progress");

      // The tree tells it too: the old row is being reclaimed (or, once handed off, ended for
      // that reason) while the new host starts.
      const row = await waitFor("the tree row to show the interruption", async () =>
        (await wb.treeRows()).find((r) => r.label.includes(oldId) && /being reclaimed by AWS|spot-interruption/.test(r.text)), { timeoutMs: 60_000 });
      assert.match(row.text, /being reclaimed by AWS|spot-interruption/);
      await wb.shot("tree-interrupting");
    });

    await s.step(t, "3. with no user action, the webview shows RStudio on the replacement", async () => {
      assert.ok(noticeAt, "step 2 wrote the notice");
      const old = await waitFor("the backend to name the replacement", async () => (await s.api.instance(oldId)).replacementId ?? null, { timeoutMs: 120_000 });
      newId = old;
      assert.notEqual(newId, oldId);
      const frame = await frameOf(wb, newId, 120_000);
      const ms = Date.now() - noticeAt;
      console.log(`spot-interruption e2e: notice written -> page of the replacement rendered: ${(ms / 1000).toFixed(1)} s`);
      assert.ok((await frame.locator("body").innerText()).includes(PLACEHOLDER_TEXT));
      assert.match(frame.url(), /\/proxy\/\d+\//, "the new page goes through code-server's port proxy");
      const replacement = await s.api.instance(newId);
      assert.equal(replacement.state, "running");
      const live = await s.api.liveInstances();
      assert.deepEqual(live.map((i) => i.instanceId), [newId], "the user holds the replacement only");
      await waitFor("the old page to be gone", async () => {
        for (const f of wb.page.frames()) {
          const id = await f.evaluate<string>("(document.getElementById('instance-id') || {}).innerText || ''").catch(() => "");
          if (id.trim() === oldId) return false;
        }
        return true;
      }, { timeoutMs: 30_000 });
      assert.ok((await wb.editorTabs()).some((tab) => /RStudio/.test(tab)), "an RStudio editor tab is open");
      await wb.shot("replacement-open");
    });

    await s.step(t, "4. the old instance ends and its process is gone", async () => {
      assert.ok(newId, "step 3 found the replacement");
      const gone = await waitFor("the old instance to be terminated", async () => {
        const i = await s.api.instance(oldId);
        return i.state === "terminated" ? i : null;
      }, { timeoutMs: 60_000 });
      assert.ok(gone.endedAt);
      assert.equal(gone.replacementId, newId);
      await waitFor("the old instance's process to end", () => !isAlive(oldPid), { timeoutMs: 30_000 });
      const row = await waitFor("the tree to show the replacement running", async () => (await wb.treeRows()).find((r) => r.label.includes(newId) && /running/.test(r.text)), { timeoutMs: 30_000 });
      assert.match(row.text, /\$0\.42\/h/);
      await wb.shot("old-ended");
    });
  });
});
