/**
 * Jupyter Notebook with the R kernel as a local instance: finding a usable install (Debian's
 * `jupyter-notebook` run by the Python that has the `notebook` package, plus the `ir` kernel
 * spec and R), the configuration it runs with (127.0.0.1, no token, framing by the editor's
 * webview allowed, the R kernel by default), and reading its own activity for the busy check.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import os from "node:os";
import path from "node:path";

/** How to start Jupyter Notebook here: the interpreter and the script it runs. */
export interface JupyterInstall {
  python: string;
  script: string;
  /** Directory of the R executable the `ir` kernel runs. */
  rDir: string;
}

/** The CSP frame-ancestors that let VS Code (desktop webviews, code-server on this machine) frame it. */
export const DEFAULT_FRAME_ANCESTORS = "'self' vscode-webview: vscode-file: http://127.0.0.1:* http://localhost:* http://*.localhost:*";

/** Where kernel specs are looked for (Jupyter's data path: user, then the system prefixes). */
function kernelDirs(home: string): string[] {
  return [path.join(home, ".local", "share", "jupyter", "kernels"), "/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels"];
}

function which(name: string, envPath: string): string | null {
  for (const dir of envPath.split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/**
 * The interpreter a `jupyter-notebook` script must run under: its shebang when that names a
 * file, and for `#!/usr/bin/env python3` the system python3 first, because another python3
 * (pyenv, a virtualenv) may come first on the PATH without the notebook package.
 */
export function interpreterFor(shebang: string, exists: (p: string) => boolean = existsSync): string | null {
  const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(shebang);
  if (!m) return null;
  if (path.basename(m[1]!) !== "env") return m[1]!;
  const name = m[2] ?? "python3";
  for (const dir of ["/usr/bin", "/usr/local/bin", "/bin"]) if (exists(path.join(dir, name))) return path.join(dir, name);
  return name;
}

function succeeds(file: string, args: string[], timeoutMs = 20_000): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir(), LANG: "C.UTF-8" } }, (err, stdout, stderr) =>
      resolve(err ? `${err.message.split("\n")[0]}${stderr ? `: ${stderr.trim().split("\n").pop()}` : ""}` : null),
    );
  });
}

export type JupyterProbe = { ok: true; install: JupyterInstall } | { ok: false; reason: string };

/** Finds a Jupyter Notebook that can run the R kernel, or says what is missing. */
export async function findJupyter(envPath = process.env.PATH ?? "", home = os.homedir()): Promise<JupyterProbe> {
  const script = which("jupyter-notebook", envPath) ?? (existsSync("/usr/bin/jupyter-notebook") ? "/usr/bin/jupyter-notebook" : null);
  if (!script) return { ok: false, reason: "jupyter-notebook is not installed (Debian: apt-get install jupyter-notebook r-cran-irkernel)" };
  let firstLine = "";
  try {
    firstLine = readFileSync(script, "utf8").split("\n", 1)[0]!;
  } catch (err) {
    return { ok: false, reason: `cannot read ${script}: ${(err as Error).message}` };
  }
  const python = interpreterFor(firstLine);
  if (!python) return { ok: false, reason: `${script} has no #! line naming its Python` };
  const ir = kernelDirs(home).find((d) => existsSync(path.join(d, "ir", "kernel.json")));
  if (!ir) return { ok: false, reason: "the R kernel (kernel spec `ir`) is not installed (Debian: apt-get install r-cran-irkernel)" };
  const r = which("R", envPath);
  if (!r) return { ok: false, reason: "R is not on the PATH (Debian: apt-get install r-base-core)" };
  const failed = await succeeds(python, [script, "--version"]);
  if (failed) return { ok: false, reason: `${python} ${script} --version failed: ${failed}` };
  return { ok: true, install: { python, script, rDir: path.dirname(r) } };
}

export interface JupyterSetup {
  port: number;
  /** The instance's home: the notebook directory and $HOME of R. */
  home: string;
  allowRoot: boolean;
  frameAncestors?: string;
}

/** The notebook server's configuration file (jupyter_notebook_config.json in its config dir). */
export function jupyterConfig(s: JupyterSetup): Record<string, unknown> {
  return {
    NotebookApp: {
      ip: "127.0.0.1",
      port: s.port,
      port_retries: 0,
      open_browser: false,
      // No token or password: the port is on loopback and only reached through the pool's tunnel.
      token: "",
      password: "",
      notebook_dir: s.home,
      allow_root: s.allowRoot,
      tornado_settings: {
        headers: { "Content-Security-Policy": `frame-ancestors ${s.frameAncestors ?? DEFAULT_FRAME_ANCESTORS}` },
        // Framed by a webview of another site (vscode-webview://), a SameSite=Lax _xsrf cookie is
        // not sent and every POST of the notebook UI fails; Secure is allowed on http://127.0.0.1.
        xsrf_cookie_kwargs: { samesite: "None", secure: true },
      },
    },
    MappingKernelManager: { default_kernel_name: "ir" },
  };
}

/**
 * The notebook UI's custom.js: open notebooks in the same frame. Jupyter opens a new notebook
 * in a new window by default, which an editor webview's sandbox does not allow (and which would
 * leave the editor tab anyway).
 */
export const JUPYTER_CUSTOM_JS = "define(['base/js/namespace'], function (Jupyter) { Jupyter._target = '_self'; });\n";

/**
 * Extra Python configuration: Jupyter answers 403 to a Host that is not local (its guard against
 * DNS rebinding, which a tokenless server must keep), and knows only "localhost" and loopback
 * addresses. Names under `.localhost` are loopback by definition (RFC 6761: browsers never ask DNS
 * for them), so they cannot be rebinding; accepting them lets a port proxy such as code-server's
 * `--proxy-domain '{{port}}.localhost:…'` reach Jupyter at its root.
 */
export const JUPYTER_CONFIG_PY = `# Written by RStudio Pool (backend/providers/local/jupyter.ts).
from notebook.base.handlers import IPythonHandler as _Handler

_check_host = _Handler.check_host


def _check_host_or_dot_localhost(self):
    name = self.request.host.rsplit(":", 1)[0].lower() if not self.request.host.startswith("[") else ""
    return name.endswith(".localhost") or _check_host(self)


_Handler.check_host = _check_host_or_dot_localhost
`;

/** What the busy check reads from Jupyter: /api/status and the kernels. */
export interface JupyterActivity {
  lastActivity: number | null;
  busyKernels: number;
}

/** Busy: a kernel runs code, or Jupyter saw activity (API use, kernel messages) within the window. */
export function isJupyterBusy(a: JupyterActivity, now: number, windowMs: number): boolean {
  return a.busyKernels > 0 || (a.lastActivity !== null && now - a.lastActivity < windowMs);
}

function getJson(port: number, urlPath: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: urlPath, method: "GET", timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${urlPath}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error(`GET ${urlPath}: not JSON`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${urlPath}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** Parses Jupyter's answers; the kernels list is read with no_track_activity so reading it is not activity. */
export function parseJupyterActivity(status: unknown, kernels: unknown): JupyterActivity {
  const last = (status as { last_activity?: unknown } | null)?.last_activity;
  const t = typeof last === "string" ? Date.parse(last) : NaN;
  const busy = Array.isArray(kernels) ? kernels.filter((k) => (k as { execution_state?: unknown })?.execution_state === "busy").length : 0;
  return { lastActivity: Number.isFinite(t) ? t : null, busyKernels: busy };
}

export async function readJupyterActivity(port: number, timeoutMs = 3000): Promise<JupyterActivity> {
  const [status, kernels] = await Promise.all([getJson(port, "/api/status", timeoutMs), getJson(port, "/api/kernels?no_track_activity=1", timeoutMs)]);
  return parseJupyterActivity(status, kernels);
}
