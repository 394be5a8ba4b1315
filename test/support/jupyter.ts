/**
 * Tests that run the real Jupyter Notebook with the R kernel: the gate (skip loudly when it is
 * not installed, fail under JUPYTER_REQUIRED=1 or CI=true), and a small client that talks to a
 * notebook server the way its web page does (the _xsrf cookie, the REST API, the kernel's
 * WebSocket channels) to run R code and read what it printed.
 */
import { randomUUID } from "node:crypto";
import { test, type TestContext } from "node:test";
import WebSocket from "ws";
import { findJupyter, type JupyterProbe } from "../../backend/providers/local/jupyter";

let probe: Promise<JupyterProbe> | null = null;
export function jupyterProbe(): Promise<JupyterProbe> {
  probe ??= findJupyter();
  return probe;
}

export function jupyterRequired(env = process.env): boolean {
  return env.JUPYTER_REQUIRED === "1" || env.CI === "true";
}

/** A test that needs Jupyter + IRkernel: a loud skip without them, a failure when they are required. */
export function jupyterTest(name: string, options: { timeout: number }, fn: (t: TestContext) => Promise<void>): void {
  test(name, { timeout: options.timeout }, async (t) => {
    const found = await jupyterProbe();
    if (!found.ok) {
      const why = `Jupyter with the R kernel is not usable here: ${found.reason}. Install it with: bash scripts/ci/deps/jupyter.sh`;
      if (jupyterRequired()) throw new Error(`${why} (JUPYTER_REQUIRED=1 or CI=true)`);
      const bar = "!".repeat(100);
      process.stderr.write(`\n${bar}\n!! JUPYTER TEST SKIPPED: "${name}": ${why}\n!! (set JUPYTER_REQUIRED=1 to make this a failure)\n${bar}\n\n`);
      t.skip(`JUPYTER NOT RUN: ${why}`);
      return;
    }
    await fn(t);
  });
}

export interface ExecuteResult {
  status: string;
  /** text/plain of execute_result / display_data, and stream text, in order. */
  outputs: string[];
}

/** Talks to a notebook server at base (e.g. http://127.0.0.1:PORT, through a tunnel). */
export class NotebookClient {
  private xsrf = "";
  constructor(readonly base: string) {}

  /** Loads the tree page as the browser does, which sets the _xsrf cookie POSTs must echo. */
  async open(): Promise<Response> {
    const res = await fetch(`${this.base}/tree`, { redirect: "manual" });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("_xsrf="));
    if (cookie) this.xsrf = cookie.slice("_xsrf=".length).split(";")[0]!;
    await res.arrayBuffer();
    return res;
  }

  private headers(): Record<string, string> {
    return { "content-type": "application/json", "x-xsrftoken": this.xsrf, cookie: `_xsrf=${this.xsrf}` };
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, { method, headers: this.headers(), body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : null) as T;
  }

  startKernel(name = "ir"): Promise<{ id: string; name: string; execution_state: string }> {
    return this.json("POST", "/api/kernels", { name });
  }

  async stopKernel(id: string): Promise<void> {
    const res = await fetch(`${this.base}/api/kernels/${id}`, { method: "DELETE", headers: this.headers() });
    await res.arrayBuffer();
  }

  /** Runs code in the kernel over its WebSocket channels; resolves when the kernel goes idle again. */
  execute(kernelId: string, code: string, timeoutMs = 60_000): Promise<ExecuteResult> {
    const ws = new WebSocket(`${this.base.replace(/^http/, "ws")}/api/kernels/${kernelId}/channels?session_id=${randomUUID()}`, {
      headers: { cookie: `_xsrf=${this.xsrf}`, origin: this.base },
    });
    const msgId = randomUUID();
    return new Promise<ExecuteResult>((resolve, reject) => {
      const outputs: string[] = [];
      let status = "";
      let idle = false;
      const timer = setTimeout(() => finish(new Error(`no result for ${JSON.stringify(code)} in ${timeoutMs} ms; got ${JSON.stringify(outputs)}`)), timeoutMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        ws.close();
        if (err) reject(err);
        else resolve({ status, outputs });
      };
      ws.on("error", (e) => finish(e));
      ws.on("open", () => {
        ws.send(
          JSON.stringify({
            header: { msg_id: msgId, username: "test", session: randomUUID(), msg_type: "execute_request", version: "5.3", date: new Date().toISOString() },
            parent_header: {},
            metadata: {},
            content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
            channel: "shell",
            buffers: [],
          }),
        );
      });
      ws.on("message", (raw) => {
        const m = JSON.parse(String(raw)) as { channel: string; msg_type: string; parent_header: { msg_id?: string }; content: Record<string, any> };
        if (m.parent_header?.msg_id !== msgId) return;
        if (m.msg_type === "execute_result" || m.msg_type === "display_data") outputs.push(String(m.content.data?.["text/plain"] ?? ""));
        else if (m.msg_type === "stream") outputs.push(String(m.content.text ?? ""));
        else if (m.msg_type === "error") outputs.push(`${m.content.ename}: ${m.content.evalue}`);
        else if (m.msg_type === "execute_reply") status = String(m.content.status);
        else if (m.msg_type === "status" && m.content.execution_state === "idle") idle = true;
        if (idle && status) finish();
      });
    });
  }
}
