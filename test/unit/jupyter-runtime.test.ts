/** Purposes' app, the jupyter runtime's command line and configuration, and the auto choice with its reasons. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { APPS, purposeApps } from "../../backend/config/apps";
import { purposeSchema } from "../../backend/config/schema";
import { interpreterFor, isJupyterBusy, jupyterConfig, parseJupyterActivity } from "../../backend/providers/local/jupyter";
import { buildLaunchCommand, detectRuntime, runtimeApp, type RuntimeInputs } from "../../backend/providers/local/runtimes";

const base: RuntimeInputs = {
  runtime: "jupyter",
  port: 41234,
  instanceId: "rsp-0123456789abcdef",
  purpose: "notebooks",
  dataDir: "/var/lib/pool",
  command: null,
  rstudioImage: "rocker/rstudio:4.4",
  placeholder: { file: "/usr/bin/node", args: ["/app/placeholder.js"] },
  home: "/var/lib/pool/local-homes/rsp-0123456789abcdef",
  stateDir: "/var/lib/pool/local-instances/rsp-0123456789abcdef.d",
  jupyter: { python: "/usr/bin/python3", script: "/usr/bin/jupyter-notebook", rDir: "/usr/bin" },
  asRoot: false,
};

describe("purposes declare their app", () => {
  it("defaults to RStudio on 8787; Jupyter gets 8888; an explicit port wins", () => {
    assert.deepEqual([purposeSchema.parse({ name: "a" })].map((p) => [p.app, p.servicePort, p.extraApps]), [["rstudio", 8787, []]]);
    assert.equal(purposeSchema.parse({ name: "a", app: "jupyter" }).servicePort, 8888);
    assert.equal(purposeSchema.parse({ name: "a", app: "jupyter", servicePort: 9999 }).servicePort, 9999);
  });

  it("a purpose may serve both apps, each on its port, the main one first", () => {
    const p = purposeSchema.parse({ name: "both", extraApps: ["jupyter"] });
    assert.deepEqual(purposeApps(p), [{ app: "rstudio", port: 8787 }, { app: "jupyter", port: 8888 }]);
    assert.deepEqual(purposeApps(purposeSchema.parse({ name: "j", app: "jupyter", extraApps: ["jupyter"] })), [{ app: "jupyter", port: 8888 }]);
  });

  it("refuses unknown apps and two apps on one port, naming the field", () => {
    const bad = purposeSchema.safeParse({ name: "a", app: "vscode" });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues[0]?.path, ["app"]);
    const clash = purposeSchema.safeParse({ name: "a", servicePort: 8888, extraApps: ["jupyter"] });
    assert.equal(clash.success, false);
    assert.deepEqual(clash.error?.issues[0]?.path, ["extraApps", 0]);
    assert.match(clash.error?.issues[0]?.message ?? "", /jupyter listens on 8888/);
  });

  it("each app fixes its readiness path, busy notion, title and icon", () => {
    assert.equal(APPS.jupyter.readyPath, "/api/status");
    assert.equal(APPS.rstudio.title, "RStudio");
    assert.equal(APPS.jupyter.icon, "notebook");
    assert.deepEqual(["docker", "rserver", "jupyter", "placeholder"].map((r) => runtimeApp(r as never)), ["rstudio", "rstudio", "jupyter", "placeholder"]);
  });
});

describe("the jupyter runtime", () => {
  it("runs jupyter-notebook with the interpreter that has the notebook package, on 127.0.0.1, in the instance's home", () => {
    const c = buildLaunchCommand(base);
    assert.equal(c.file, "/usr/bin/python3");
    assert.deepEqual(c.args, ["/usr/bin/jupyter-notebook", "--no-browser", "--ip=127.0.0.1", "--port=41234", `--notebook-dir=${base.home}`]);
    assert.equal(c.cwd, base.home);
  });

  it("gets a minimal environment of its own: HOME, its own config and runtime dirs, a PATH with its Python and R", () => {
    const c = buildLaunchCommand(base);
    assert.deepEqual(Object.keys(c.env ?? {}).sort(), ["HOME", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "LANG", "PATH"]);
    assert.equal(c.env!.HOME, base.home);
    assert.equal(c.env!.JUPYTER_CONFIG_DIR, `${base.stateDir}/config`);
    assert.equal(c.env!.PATH!.split(":")[0], "/usr/bin");
    const file = `${base.stateDir}/config/jupyter_notebook_config.json`;
    assert.deepEqual(Object.keys(c.files ?? {}), [file, `${base.stateDir}/config/jupyter_notebook_config.py`, `${base.stateDir}/config/custom/custom.js`]);
    assert.match(c.files![`${base.stateDir}/config/jupyter_notebook_config.py`]!, /endswith\("\.localhost"\) or _check_host\(self\)/, "only .localhost names are added to Jupyter's local hosts");
    assert.match(c.files![`${base.stateDir}/config/custom/custom.js`]!, /_target = '_self'/, "notebooks open in the webview's frame, not a new window");
    assert.deepEqual(JSON.parse(c.files![file]!), jupyterConfig({ port: 41234, home: base.home!, allowRoot: false }));
  });

  it("its configuration: no token or password, loopback, R by default, framing by VS Code webviews allowed", () => {
    const cfg = jupyterConfig({ port: 5000, home: "/h", allowRoot: true }) as { NotebookApp: Record<string, any>; MappingKernelManager: Record<string, string> };
    assert.equal(cfg.NotebookApp.ip, "127.0.0.1");
    assert.equal(cfg.NotebookApp.token, "");
    assert.equal(cfg.NotebookApp.password, "");
    assert.equal(cfg.NotebookApp.open_browser, false);
    assert.equal(cfg.NotebookApp.port_retries, 0, "never wander to another port");
    assert.equal(cfg.NotebookApp.allow_root, true);
    assert.equal(cfg.MappingKernelManager.default_kernel_name, "ir");
    assert.deepEqual(cfg.NotebookApp.tornado_settings.xsrf_cookie_kwargs, { samesite: "None", secure: true }, "the _xsrf cookie reaches Jupyter from inside a webview");
    const csp = cfg.NotebookApp.tornado_settings.headers["Content-Security-Policy"] as string;
    assert.match(csp, /^frame-ancestors 'self' vscode-webview: vscode-file: http:\/\/127\.0\.0\.1:\* http:\/\/localhost:\* http:\/\/\*\.localhost:\*$/);
  });

  it("needs a Jupyter install, a home and a state dir", () => {
    assert.throws(() => buildLaunchCommand({ ...base, jupyter: null }), /not found/);
    assert.throws(() => buildLaunchCommand({ ...base, home: undefined }), /home/);
  });

  it("resolves the interpreter from the script's #! line, the system python3 for /usr/bin/env", () => {
    assert.equal(interpreterFor("#!/usr/bin/python3"), "/usr/bin/python3");
    assert.equal(interpreterFor("#!/usr/bin/env python3", (p) => p === "/usr/bin/python3"), "/usr/bin/python3");
    assert.equal(interpreterFor("#! /opt/venv/bin/python -E"), "/opt/venv/bin/python");
    assert.equal(interpreterFor("import sys"), null);
  });

  it("reads busy kernels and last_activity; busy means a kernel runs or activity within the window", () => {
    const a = parseJupyterActivity({ last_activity: "2026-12-01T10:00:00.123456Z", kernels: 1 }, [{ execution_state: "idle" }, { execution_state: "busy" }]);
    assert.deepEqual(a, { lastActivity: Date.parse("2026-12-01T10:00:00.123Z"), busyKernels: 1 });
    assert.deepEqual(parseJupyterActivity({}, "nonsense"), { lastActivity: null, busyKernels: 0 });
    const t = Date.parse("2026-12-01T10:00:00Z");
    assert.equal(isJupyterBusy({ lastActivity: t, busyKernels: 0 }, t + 60_000, 180_000), true);
    assert.equal(isJupyterBusy({ lastActivity: t, busyKernels: 0 }, t + 181_000, 180_000), false);
    assert.equal(isJupyterBusy({ lastActivity: null, busyKernels: 2 }, t, 180_000), true);
  });
});

describe("auto picks a runtime and says why it skipped the others", () => {
  const noDocker = async () => "the docker client is installed but no Docker daemon answers (docker info: Cannot connect)";
  const jupyterOk = async () => ({ ok: true as const, install: base.jupyter! });
  const jupyterMissing = async () => ({ ok: false as const, reason: "jupyter-notebook is not installed" });

  it("Docker RStudio first when its daemon answers", async () => {
    const c = await detectRuntime(null, "rstudio", { dockerProblem: async () => null, findJupyter: jupyterOk });
    assert.equal(c.runtime, "docker");
    assert.deepEqual(c.skipped, []);
  });

  it("no daemon and no RStudio Server: Jupyter with R, with the reasons in order", async () => {
    const c = await detectRuntime(null, "rstudio", { dockerProblem: noDocker, findJupyter: jupyterOk });
    assert.equal(c.runtime, "jupyter");
    assert.deepEqual(c.skipped.map((s) => s.runtime), ["docker", "rserver", "command"]);
    assert.match(c.skipped[0]!.reason, /no Docker daemon answers/);
    assert.deepEqual(c.jupyter, base.jupyter);
  });

  it("nothing real: the placeholder, every skip explained", async () => {
    const c = await detectRuntime(null, "rstudio", { dockerProblem: noDocker, findJupyter: jupyterMissing });
    assert.equal(c.runtime, "placeholder");
    assert.deepEqual(c.skipped.map((s) => [s.runtime, s.reason.length > 0]), [["docker", true], ["rserver", true], ["command", true], ["jupyter", true]]);
  });

  it("a command template comes before Jupyter; a Jupyter purpose skips the RStudio runtimes", async () => {
    assert.equal((await detectRuntime("x {port}", "rstudio", { dockerProblem: noDocker, findJupyter: jupyterOk })).runtime, "command");
    let dockerAsked = false;
    const j = await detectRuntime(null, "jupyter", { dockerProblem: async () => ((dockerAsked = true), null), findJupyter: jupyterOk });
    assert.equal(j.runtime, "jupyter");
    assert.equal(dockerAsked, false);
    assert.match(j.skipped[0]!.reason, /serves RStudio/);
  });
});
