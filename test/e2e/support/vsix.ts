/**
 * The extension package the e2e tests install: rstudio-pool.vsix from `npm run package`. `npm
 * test` packages it before any suite runs; when an e2e file is run alone and the package is
 * missing or older than the build, it is made here, once, under a lock shared by the e2e files
 * (the node test runner runs two files at a time). E2E_VSIX=path tests a given package instead.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, rmdirSync, statSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./harness";
import { sleep } from "./processes";

const run = promisify(execFile);
export const VSIX = path.join(REPO_ROOT, "rstudio-pool.vsix");

function mtime(file: string): number {
  return existsSync(file) ? statSync(file).mtimeMs : 0;
}

function isFresh(): boolean {
  const built = mtime(path.join(REPO_ROOT, "dist", "extension.js"));
  return built > 0 && mtime(VSIX) >= Math.max(built, mtime(path.join(REPO_ROOT, "package.json")));
}

export async function ensureVsix(): Promise<string> {
  // A package built elsewhere (e.g. to try a release candidate): used as is.
  if (process.env.E2E_VSIX) return path.resolve(process.env.E2E_VSIX);
  if (isFresh()) return VSIX;
  const lock = path.join(REPO_ROOT, "test-results", ".vsix-lock");
  mkdirSync(path.dirname(lock), { recursive: true });
  const until = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > until) throw new Error(`another test held ${lock} for 3 minutes; remove it if no test runs`);
      await sleep(500);
    }
  }
  try {
    if (!isFresh()) {
      await run("npm", ["run", "--silent", "package"], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
    }
  } finally {
    rmdirSync(lock);
  }
  if (!existsSync(VSIX)) throw new Error(`npm run package did not produce ${VSIX}`);
  return VSIX;
}
