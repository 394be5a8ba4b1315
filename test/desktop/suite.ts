/**
 * The in-extension-host integration suite for desktop VS Code (@vscode/test-electron): bundled
 * by test/desktop/run.ts and loaded by VS Code, which calls run(). It checks what only the real
 * extension host can show: the extension activates, every command id is registered, the view
 * and its tree provider answer, and a claim reaches the running backend. A failure rejects run(),
 * which makes VS Code exit non-zero.
 */
import assert from "node:assert/strict";
import * as vscode from "vscode";
import type { InstancesResponse } from "../../contract";
import { COMMAND_IDS, VIEW_CONTAINER_ID } from "../../extension/command-ids";
import { waitFor } from "../e2e/support/processes";

const backendUrl = process.env.E2E_BACKEND_URL ?? "";
const token = process.env.RSTUDIO_POOL_TOKEN ?? "";

async function myInstances(): Promise<InstancesResponse["instances"]> {
  const res = await fetch(`${backendUrl}/v1/instances`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return ((await res.json()) as InstancesResponse).instances;
}

const cases: [string, () => Promise<void>][] = [
  ["the extension activates", async () => {
    const ext = vscode.extensions.getExtension("rstudio-pool.rstudio-pool");
    assert.ok(ext, "the extension under development is loaded");
    await ext.activate();
    assert.equal(ext.isActive, true);
  }],
  ["every command id is registered", async () => {
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(COMMAND_IDS.filter((id) => !registered.has(id)), []);
  }],
  ["the view opens and its tree provider answers a refresh", async () => {
    await vscode.commands.executeCommand(`workbench.view.extension.${VIEW_CONTAINER_ID}`);
    await vscode.commands.executeCommand("rstudioPool.refresh");
  }],
  ["Claim RStudio claims an instance at the running backend", async () => {
    assert.deepEqual((await myInstances()).filter((i) => i.state === "running"), []);
    await vscode.commands.executeCommand("rstudioPool.claim");
    const running = await waitFor("a running instance", async () => (await myInstances()).find((i) => i.state === "running"), { timeoutMs: 60_000 });
    assert.equal(running.ownerId, "desktop-user");
  }],
];

export async function run(): Promise<void> {
  const failures: string[] = [];
  for (const [name, fn] of cases) {
    try {
      await fn();
      console.log(`ok - ${name}`);
    } catch (err) {
      failures.push(name);
      console.log(`not ok - ${name}: ${(err as Error).stack ?? err}`);
    }
  }
  console.log(`# ${cases.length - failures.length} passed, ${failures.length} failed`);
  if (failures.length) throw new Error(`${failures.length} desktop test(s) failed: ${failures.join("; ")}`);
}
