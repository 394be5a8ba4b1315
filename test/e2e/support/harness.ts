/**
 * Where the end-to-end harness lives (code-server from scripts/e2e/install-harness.sh, Debian's
 * Chromium) and the gate every e2e test file goes through: with the harness missing the tests
 * are skipped with a loud reason, or fail when E2E_REQUIRED=1 (CI), never counted as passed.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { test, type TestContext } from "node:test";

export const CODE_SERVER_VERSION = "4.100.3";
export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
export const RESULTS_DIR = path.join(REPO_ROOT, "test-results", "e2e");

export function harnessDir(env = process.env): string {
  const cache = env.E2E_CACHE_DIR || path.join(homedir(), ".cache", "rstudio-pool-e2e");
  return path.join(cache, `code-server-${CODE_SERVER_VERSION}`);
}

export function codeServerBin(env = process.env): string {
  return path.join(harnessDir(env), "node_modules", ".bin", "code-server");
}

export function chromiumPath(env = process.env): string {
  return env.E2E_CHROMIUM || "/usr/bin/chromium";
}

/** Why the harness cannot run here, or null when it can. */
export function harnessMissing(env = process.env): string | null {
  const missing: string[] = [];
  if (!existsSync(path.join(harnessDir(env), ".install-complete"))) missing.push(`code-server ${CODE_SERVER_VERSION} (not in ${harnessDir(env)})`);
  if (!existsSync(chromiumPath(env))) missing.push(`Chromium (not at ${chromiumPath(env)})`);
  if (missing.length === 0) return null;
  return `the e2e harness is not installed: missing ${missing.join(" and ")}. Install it with: bash scripts/e2e/install-harness.sh`;
}

/**
 * Declares one e2e test. When the harness is missing it is a skip with the reason (printed in a
 * banner as well, so nobody reads "0 failed" as "e2e passed"), or a failure under E2E_REQUIRED=1.
 */
export function e2eTest(name: string, options: { timeout: number }, fn: (t: TestContext) => Promise<void>): void {
  const missing = harnessMissing();
  if (missing === null) {
    test(name, { timeout: options.timeout }, fn);
    return;
  }
  if (process.env.E2E_REQUIRED === "1") {
    test(name, () => {
      throw new Error(`E2E_REQUIRED=1 but ${missing}`);
    });
    return;
  }
  const bar = "!".repeat(100);
  process.stderr.write(`\n${bar}\n!! E2E SKIPPED: "${name}": ${missing}\n!! (set E2E_REQUIRED=1 to make this a failure)\n${bar}\n\n`);
  test(name, { skip: `E2E NOT RUN: ${missing}` }, () => {});
}

/** The folder for one test's screenshots and logs (kept by CI), emptied for this run. */
export function resultsDir(testName: string): string {
  const dir = path.join(RESULTS_DIR, testName.replace(/[^A-Za-z0-9._-]+/g, "-"));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
