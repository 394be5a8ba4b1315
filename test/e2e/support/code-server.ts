/**
 * A real VS Code for one test: code-server on a free loopback port with throwaway user-data and
 * extensions directories, our .vsix installed into the latter, user settings written before
 * start (backend URL, short heartbeat, plugin path) and the API token in RSTUDIO_POOL_TOKEN.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../../backend/net/free-port";
import { codeServerBin } from "./harness";
import { ManagedProcess, waitFor } from "./processes";

const run = promisify(execFile);

export interface CodeServerOptions {
  vsix: string;
  settings: Record<string, unknown>;
  /** RSTUDIO_POOL_TOKEN for the extension host; absent means none. */
  token?: string;
  env?: Record<string, string>;
  logFile: string;
  /** Extra code-server arguments (e.g. --proxy-domain), given code-server's port. */
  args?: (port: number) => string[];
  /** Host name the browser uses for the workbench (default 127.0.0.1). */
  host?: string;
}

export class CodeServer {
  private proc: ManagedProcess | null = null;

  private constructor(
    readonly root: string,
    readonly port: number,
    readonly workspace: string,
    readonly host = "127.0.0.1",
  ) {}

  get userDataDir(): string {
    return path.join(this.root, "user-data");
  }
  get extensionsDir(): string {
    return path.join(this.root, "extensions");
  }
  /** The workbench with our test folder open. */
  get url(): string {
    return `http://${this.host}:${this.port}/?folder=${encodeURIComponent(this.workspace)}`;
  }

  static async start(o: CodeServerOptions): Promise<CodeServer> {
    const root = mkdtempSync(path.join(tmpdir(), "rsp-e2e-vscode-"));
    const cs = new CodeServer(root, await freePort(), path.join(root, "workspace"), o.host);
    mkdirSync(cs.workspace, { recursive: true });
    writeFileSync(path.join(cs.workspace, "README.md"), "A folder for the RStudio Pool end-to-end test.\n");
    cs.writeSettings(o.settings);
    await cs.installExtension(o.vsix);
    const env: NodeJS.ProcessEnv = { ...process.env, ...o.env };
    delete env.RSTUDIO_POOL_TOKEN;
    if (o.token !== undefined) env.RSTUDIO_POOL_TOKEN = o.token;
    // code-server itself must not think it runs inside another VS Code.
    for (const k of Object.keys(env)) if (k.startsWith("VSCODE_")) delete env[k];
    cs.proc = new ManagedProcess("code-server", codeServerBin(), [
      "--auth", "none",
      "--bind-addr", `127.0.0.1:${cs.port}`,
      "--disable-telemetry",
      "--disable-update-check",
      "--user-data-dir", cs.userDataDir,
      "--extensions-dir", cs.extensionsDir,
      ...(o.args?.(cs.port) ?? []),
    ], { env, cwd: cs.workspace, logFile: o.logFile });
    await waitFor(`code-server on port ${cs.port}`, async () => {
      if (!cs.proc?.running) throw new Error(`code-server exited; see ${o.logFile}`);
      return (await fetch(`http://127.0.0.1:${cs.port}/healthz`)).ok;
    }, { timeoutMs: 60_000 });
    return cs;
  }

  writeSettings(settings: Record<string, unknown>): void {
    const dir = path.join(this.userDataDir, "User");
    mkdirSync(dir, { recursive: true });
    const base = {
      // Keep the workbench quiet and stable for screenshots.
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "telemetry.telemetryLevel": "off",
      "update.mode": "none",
      "extensions.autoCheckUpdates": false,
      "extensions.autoUpdate": false,
      "chat.commandCenter.enabled": false,
      "workbench.colorTheme": "Default Light Modern",
    };
    writeFileSync(path.join(dir, "settings.json"), JSON.stringify({ ...base, ...settings }, null, 2));
  }

  readSettings(): Record<string, unknown> {
    return JSON.parse(readFileSync(path.join(this.userDataDir, "User", "settings.json"), "utf8")) as Record<string, unknown>;
  }

  private async installExtension(vsix: string): Promise<void> {
    const { stdout, stderr } = await run(codeServerBin(), ["--user-data-dir", this.userDataDir, "--extensions-dir", this.extensionsDir, "--install-extension", vsix], { timeout: 120_000 });
    if (!/successfully installed/i.test(stdout + stderr)) throw new Error(`installing ${vsix} failed: ${stdout}${stderr}`);
  }

  async dispose(): Promise<void> {
    await this.proc?.stop();
    this.proc = null;
    rmSync(this.root, { recursive: true, force: true });
  }
}
