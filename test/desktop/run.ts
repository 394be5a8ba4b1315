/**
 * `npm run test:desktop`: the in-extension-host suite in desktop VS Code through
 * @vscode/test-electron, for machines that can download VS Code (this project's CI cannot: it
 * runs the code-server harness, test/e2e, instead). Starts the real backend with a user, bundles
 * test/desktop/suite.ts, and lets test-electron download and run VS Code with the extension
 * under development. Exits non-zero on any failure, including a failed download: never a pass
 * without a run.
 */
import { build } from "esbuild";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runTests } from "@vscode/test-electron";
import { Backend } from "../e2e/support/backend";
import { REPO_ROOT } from "../e2e/support/harness";

async function main(): Promise<number> {
  const work = mkdtempSync(path.join(tmpdir(), "rsp-desktop-"));
  const suite = path.join(work, "suite.js");
  await build({ entryPoints: [path.join(__dirname, "suite.ts")], outfile: suite, bundle: true, platform: "node", format: "cjs", target: "node20", external: ["vscode"] });
  const backend = await Backend.create({ logFile: path.join(work, "backend.log") });
  try {
    const token = await backend.addUser("desktop-user");
    await backend.start();
    const userData = path.join(work, "user-data");
    mkdirSync(path.join(userData, "User"), { recursive: true });
    writeFileSync(path.join(userData, "User", "settings.json"), JSON.stringify({ "rstudioPool.backendUrl": backend.url, "security.workspace.trust.enabled": false }));
    mkdirSync(path.join(work, "workspace"));
    await runTests({
      version: process.env.VSCODE_TEST_VERSION ?? "stable",
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: suite,
      extensionTestsEnv: { RSTUDIO_POOL_TOKEN: token, E2E_BACKEND_URL: backend.url },
      launchArgs: [path.join(work, "workspace"), "--disable-extensions", "--user-data-dir", userData, "--extensions-dir", path.join(work, "extensions")],
    });
    console.log("desktop suite passed");
    return 0;
  } catch (err) {
    console.error(`desktop suite FAILED (or VS Code could not be downloaded/run): ${(err as Error).message ?? err}`);
    return 1;
  } finally {
    await backend.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

void main().then((code) => process.exit(code));
