/**
 * Errors a user can hit, end to end: the backend is down (a clear message, and the extension
 * keeps working once it is back), a bad token (the sign-in prompt, and signing in fixes it), and
 * a full pool (the message says why).
 */
import assert from "node:assert/strict";
import { DEFAULT_PURPOSE, PLACEHOLDER_TEXT } from "./support/backend";
import { e2eTest } from "./support/harness";
import { waitFor } from "./support/processes";
import { Session } from "./support/session";

e2eTest("e2e: backend down gives a clear message, and the extension recovers", { timeout: 240_000 }, async (t) => {
  await Session.run({ name: "error-backend-down", backendDown: true }, async (s) => {
    const { wb } = s;
    await s.step(t, "6a. Claim RStudio with the backend down", async () => {
      await wb.openPoolView();
      await wb.runCommand("Claim RStudio");
      // Claiming first asks for the purposes: that request is the one that fails.
      const down = new RegExp(`Failed to \\w+ [^:]+: the backend at http://127\\.0\\.0\\.1:${s.backend.port} does not answer`);
      const message = await wb.waitForNotification(down, 30_000);
      await wb.shot("backend-down-message");
      assert.match(message, /Check that the backend runs and the setting rstudioPool\.backendUrl points at it/);
      assert.match(message, /Open Settings/);
      assert.match(await wb.viewText(), down, "the view says it too");
      assert.ok(!(await wb.treeRows()).some((r) => /running/.test(r.text)));
    });

    await s.step(t, "6a. no crash: with the backend back, the same window claims RStudio", async () => {
      await s.backend.start();
      await wb.clearNotifications();
      await wb.runCommand("Claim RStudio");
      await wb.frameWithText(PLACEHOLDER_TEXT, 60_000);
      await waitFor("a running row", async () => (await wb.treeRows()).some((r) => /running/.test(r.text)), { timeoutMs: 30_000 });
      assert.equal((await s.api.liveInstances()).length, 1);
      await wb.shot("backend-back-claimed");
    });
  });
});

e2eTest("e2e: a bad token leads to the sign-in prompt, and signing in fixes it", { timeout: 240_000 }, async (t) => {
  await Session.run({ name: "error-bad-token", token: { value: "rsp_this-token-was-never-issued-by-the-backend" } }, async (s) => {
    const { wb } = s;
    await s.step(t, "6b. the extension asks to sign in", async () => {
      await wb.openPoolView();
      await wb.runCommand("Claim RStudio");
      const invalid = /Failed to \w+ [^:]+: the token is not valid/;
      const message = await wb.waitForNotification(invalid, 30_000);
      await wb.shot("bad-token-message");
      assert.match(message, /Sign in again with a valid API token/);
      assert.match(await wb.viewText(), invalid, "the view says it too");
      assert.match(message, /Sign In/);
      assert.deepEqual(await s.api.liveInstances(), []);
    });

    await s.step(t, "6b. Sign In with a valid token, then the claim works", async () => {
      await wb.clickNotificationButton(/the token is not valid/, "Sign In");
      const input = wb.page.locator(".quick-input-widget input");
      await input.waitFor({ timeout: 10_000 });
      assert.equal(await input.getAttribute("type"), "password", "the token is typed into a password box");
      await input.fill(s.userToken);
      await wb.shot("sign-in-prompt");
      await wb.page.keyboard.press("Enter");
      await wb.waitForNotification(/Signed in to the RStudio Pool as e2e-user/, 30_000);
      await wb.runCommand("Claim RStudio");
      await wb.frameWithText(PLACEHOLDER_TEXT, 60_000);
      assert.equal((await s.api.liveInstances()).length, 1);
      await wb.shot("signed-in-claimed");
    });
  });
});

e2eTest("e2e: a full pool says why the claim was refused", { timeout: 240_000 }, async (t) => {
  const purposes = [{ ...DEFAULT_PURPOSE, max: 1 }];
  await Session.run({ name: "error-pool-full", backend: { purposes } }, async (s) => {
    const { wb } = s;
    await s.step(t, "6c. Claim RStudio when another user holds the only instance", async () => {
      const other = s.backend.api(await s.backend.addUser("other-user"));
      await other.claim();
      await wb.openPoolView();
      await wb.runCommand("Claim RStudio");
      const message = await wb.waitForNotification(/Failed to claim RStudio/, 30_000);
      await wb.shot("pool-full-message");
      assert.match(message, /Failed to claim RStudio: no instance of "rstudio" is free and the purpose is at its maximum of 1\. Try again later/);
      assert.match(message, /Retry/);
      assert.deepEqual(await s.api.liveInstances(), []);
      assert.deepEqual(await wb.treeRows(), []);
    });
  });
});
