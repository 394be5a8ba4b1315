/**
 * Keep-alive end to end, with a 20-second idle timeout: while the RStudio panel is visible in a
 * focused window the extension's heartbeats keep the instance past that timeout; once the panel
 * is closed and the window left alone, the heartbeats stop (after the extension's traffic
 * window) and the backend's idle reaper takes the instance, which the tree then shows as over.
 */
import assert from "node:assert/strict";
import { DEFAULT_PURPOSE, PLACEHOLDER_TEXT } from "./support/backend";
import { e2eTest } from "./support/harness";
import { isAlive, sleep, waitFor } from "./support/processes";
import { Session } from "./support/session";

const IDLE_TIMEOUT_S = 20;
/** The extension counts traffic through its tunnel as use for this long (keep-alive.ts). */
const TRAFFIC_WINDOW_S = 180;

e2eTest("e2e: keep-alive while RStudio is in view, idle reaping once it is not", { timeout: 480_000 }, async (t) => {
  const purposes = [{ ...DEFAULT_PURPOSE, idleTimeoutSeconds: IDLE_TIMEOUT_S }];
  await Session.run({ name: "keep-alive", backend: { purposes } }, async (s) => {
    const { wb } = s;
    let instanceId = "";

    await s.step(t, "3a. a visible, focused panel outlives the idle timeout", async () => {
      await wb.openPoolView();
      await wb.runCommand("Claim RStudio");
      await wb.frameWithText(PLACEHOLDER_TEXT, 60_000);
      const [inst] = await s.api.liveInstances();
      assert.ok(inst, "the claim made an instance");
      instanceId = inst.instanceId;
      const firstDeadline = Date.parse(inst.idleDeadline!);
      const claimedAt = Date.now();
      await wb.page.bringToFront();
      await wb.shot("panel-visible");

      // Twice the idle timeout with nothing but the panel in view.
      await sleep(2 * IDLE_TIMEOUT_S * 1000);
      const now = await s.api.instance(instanceId);
      assert.equal(now.state, "running", `still running ${Math.round((Date.now() - claimedAt) / 1000)} s after the claim, past a ${IDLE_TIMEOUT_S} s idle timeout`);
      assert.ok(Date.parse(now.idleDeadline!) > firstDeadline + IDLE_TIMEOUT_S * 1000, "heartbeats moved the idle deadline on");
      assert.ok((await wb.treeRows()).some((r) => /running/.test(r.text)));
      await wb.shot("still-running-after-idle-timeout");
    });

    await s.step(t, "3b. with the panel closed and the window left alone it is reaped", async () => {
      const pids = s.backend.localInstances().map((i) => i.pid);
      await wb.page.locator('.tabs-container .tab[aria-label^="RStudio"] .codicon-close').first().click();
      await waitFor("the RStudio tab to close", async () => !(await wb.editorTabs()).some((x) => /RStudio/.test(x)), { timeoutMs: 10_000 });
      const closedAt = Date.now();
      await wb.shot("panel-closed");

      const reaped = await waitFor("the idle reaper", async () => {
        const i = await s.api.instance(instanceId);
        return ["releasing", "terminated"].includes(i.state) ? i : null;
      }, { timeoutMs: (TRAFFIC_WINDOW_S + IDLE_TIMEOUT_S + 60) * 1000, intervalMs: 1000 });
      assert.equal(reaped.stateReason, "idle");
      const after = Math.round((Date.now() - closedAt) / 1000);
      t.diagnostic(`reaped ${after} s after the panel was closed`);

      const row = await waitFor("the tree to show the instance as over", async () => {
        const rows = await wb.treeRows();
        if (rows.some((r) => /running/.test(r.text))) return null;
        return rows.find((r) => r.label.includes(instanceId));
      }, { timeoutMs: 30_000 });
      assert.match(row.text, /idle/);
      await wb.waitForNotification(/was reaped because it was idle/, 30_000);
      await wb.shot("reaped");
      await waitFor("the instance's process to end", () => !pids.some(isAlive), { timeoutMs: 30_000 });
    });
  });
});
