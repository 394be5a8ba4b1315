/**
 * One end-to-end session: a backend, a user made through the CLI, code-server with our
 * extension and that user's token, and Chromium showing the workbench. `close()` tears all of it
 * down in reverse order, also when the test failed halfway (a failure screenshot is kept).
 */
import path from "node:path";
import type { TestContext } from "node:test";
import { Backend, type BackendOptions } from "./backend";
import { CodeServer } from "./code-server";
import { resultsDir } from "./harness";
import { ensureVsix } from "./vsix";
import { Workbench } from "./workbench";

export const USER = "e2e-user";

export interface SessionOptions {
  name: string;
  backend?: Omit<BackendOptions, "logFile">;
  /** Extra user settings (rstudioPool.backendUrl and a short heartbeat are set already). */
  settings?: Record<string, unknown>;
  /** The token VS Code gets: the user's (default), a given string, or none. */
  token?: "user" | "none" | { value: string };
  /** Extra environment for code-server (and so the extension host and what it spawns). */
  vscodeEnv?: Record<string, string>;
  /** Leave the backend stopped (to see the extension with the backend down). */
  backendDown?: boolean;
  /** Extra code-server arguments, and the host name the browser opens it at. */
  vscodeArgs?: (port: number) => string[];
  vscodeHost?: string;
}

export class Session {
  private readonly cleanups: (() => Promise<void>)[] = [];

  private constructor(
    readonly dir: string,
    readonly backend: Backend,
    readonly userToken: string,
  ) {}

  vscode!: CodeServer;
  wb!: Workbench;

  static async start(o: SessionOptions): Promise<Session> {
    const dir = resultsDir(o.name);
    const vsix = await ensureVsix();
    const backend = await Backend.create({ ...o.backend, logFile: path.join(dir, "backend.log") });
    let session: Session | null = null;
    try {
      const token = await backend.addUser(USER);
      session = new Session(dir, backend, token);
      session.cleanups.push(() => backend.dispose());
      if (!o.backendDown) await backend.start();
      const vsToken = o.token === "none" ? undefined : typeof o.token === "object" ? o.token.value : token;
      session.vscode = await CodeServer.start({
        vsix,
        token: vsToken,
        env: o.vscodeEnv,
        args: o.vscodeArgs,
        host: o.vscodeHost,
        settings: { "rstudioPool.backendUrl": backend.url, "rstudioPool.heartbeatSeconds": 10, ...o.settings },
        logFile: path.join(dir, "code-server.log"),
      });
      const vs = session.vscode;
      session.cleanups.push(() => vs.dispose());
      session.wb = await Workbench.open(vs.url, dir);
      const wb = session.wb;
      session.cleanups.push(() => wb.close());
      return session;
    } catch (err) {
      if (session) await session.close();
      else await backend.dispose();
      throw err;
    }
  }

  /** What the backend says about this user's instances. */
  get api() {
    return this.backend.api(this.userToken);
  }

  async close(failed = false): Promise<void> {
    if (failed && this.wb) await this.wb.shot("failure").catch(() => undefined);
    for (const c of this.cleanups.reverse()) await c().catch((err) => console.error(`e2e teardown: ${(err as Error).message}`));
    this.cleanups.length = 0;
  }

  /**
   * One scenario step as a subtest; a failing step leaves a screenshot, and the steps after it
   * are skipped (they build on it) rather than failing with confusing messages.
   */
  async step(t: TestContext, name: string, fn: () => Promise<void>): Promise<void> {
    if (this.broken) {
      await t.test(name, { skip: `an earlier step failed: ${this.broken}` }, () => {});
      return;
    }
    await t.test(name, async () => {
      try {
        await fn();
      } catch (err) {
        this.broken = name;
        await this.wb.shot(`failed-${name.replace(/\W+/g, "-").toLowerCase()}`).catch(() => undefined);
        throw err;
      }
    });
  }

  private broken: string | null = null;

  /** Runs the body, closing the session whatever happens. */
  static async run(o: SessionOptions, body: (s: Session) => Promise<void>): Promise<void> {
    const s = await Session.start(o);
    let failed = true;
    try {
      await body(s);
      failed = false;
    } finally {
      await s.close(failed);
    }
  }
}
