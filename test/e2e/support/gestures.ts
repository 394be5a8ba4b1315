/**
 * Gestures several scenarios share, done through the UI as a user would: claim from the command
 * palette and wait for RStudio's page, release an instance from the tree's context menu.
 */
import { connect } from "node:net";
import type { Frame } from "playwright-core";
import type { InstanceView } from "../../../contract";
import { PLACEHOLDER_TEXT } from "./backend";
import { waitFor } from "./processes";
import type { Session } from "./session";

export function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Runs "Claim RStudio" from the palette and waits for the placeholder page in the webview. */
export async function claimFromPalette(s: Session): Promise<{ instance: InstanceView; frame: Frame; proxyPort: number }> {
  await s.wb.openPoolView();
  await s.wb.runCommand("Claim RStudio");
  const frame = await s.wb.frameWithText(PLACEHOLDER_TEXT, 60_000);
  const live = await s.api.liveInstances();
  if (live.length !== 1) throw new Error(`expected one instance at the backend, found ${live.length}`);
  const m = /\/proxy\/(\d+)\//.exec(frame.url());
  if (!m) throw new Error(`the frame is not served through code-server's port proxy: ${frame.url()}`);
  return { instance: live[0]!, frame, proxyPort: Number(m[1]) };
}

/**
 * Right-click the running row, "Release RStudio", confirm in the modal dialog; resolves with the
 * dialog's text once the tree shows no running row.
 */
export async function releaseFromTree(s: Session): Promise<string> {
  const { wb } = s;
  await wb.contextMenu(wb.treeRow(/running/), "Release RStudio");
  const confirm = wb.page.locator(".monaco-dialog-box");
  await confirm.waitFor({ timeout: 10_000 });
  const question = await confirm.innerText();
  await wb.shot("release-confirm");
  await confirm.getByRole("button", { name: "Release", exact: true }).click();
  await waitFor("the running row to leave the tree", async () => !(await wb.treeRows()).some((r) => /running/.test(r.text)), { timeoutMs: 30_000 });
  return question;
}
