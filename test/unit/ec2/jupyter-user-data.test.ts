/** EC2 and apps: the user data runs the purpose's apps (Jupyter beside or instead of RStudio), and the busy check reads Jupyter. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { BUSY_SCRIPT, isBusyReading, parseBusyOutput } from "../../../backend/providers/ec2/busy-check";
import { jupyterFrameAncestors, renderUserData } from "../../../backend/providers/ec2/user-data";

const base = { mode: "baked" as const, rstudioImage: "rocker/rstudio:4.4", rPackages: [], frameOrigin: "any", waitForHome: false };

test("user data: RStudio only by default; Jupyter's section runs only with jupyter among the apps", () => {
  const plain = renderUserData(base);
  assert.match(plain, /^APPS='rstudio'$/m);
  assert.match(plain, /case " \$APPS " in \*" rstudio "\*\)\n  touch "\$R\/etc\/rstudio-pool\/rstudio"\n/, "RStudio's unit only when it is one of the apps");
  const both = renderUserData({ ...base, apps: ["rstudio", "jupyter"], jupyterPort: 8888 });
  assert.match(both, /^APPS='rstudio jupyter'$/m);
  assert.match(both, /^  JUPYTER_PORT='8888'$/m);
  const res = spawnSync("bash", ["-n"], { input: both });
  assert.equal(res.status, 0, res.stderr.toString());
  assert.equal(renderUserData({ ...base, apps: ["jupyter"] }).match(/^APPS='jupyter'$/m)?.length, 1);
});

test("user data: Jupyter on loopback, no token, R by default, framing for webviews, notebooks in the home, no IMDS for uid 1000", () => {
  const text = renderUserData({ ...base, apps: ["jupyter"], jupyterPort: 8890 });
  assert.match(text, /"ip": "127\.0\.0\.1", "port": \$JUPYTER_PORT/);
  assert.match(text, /"token": "", "password": ""/);
  assert.match(text, /"notebook_dir": "\$HOME_MOUNT"/);
  assert.match(text, /"default_kernel_name": "ir"/);
  assert.match(text, /frame-ancestors \$JUPYTER_FRAME_ANCESTORS/);
  assert.match(text, /"xsrf_cookie_kwargs": \{"samesite": "None", "secure": true\}/);
  assert.match(text, /^  JUPYTER_FRAME_ANCESTORS='\* vscode-webview: vscode-file:'$/m);
  assert.match(text, /iptables -I OUTPUT -m owner --uid-owner 1000 -d 169\.254\.169\.254 -j REJECT/);
  assert.match(text, /^User=1000$/m);
  assert.match(text, /echo "\$JUPYTER_PORT" >"\$R\/etc\/rstudio-pool\/jupyter-port"/, "the busy check finds the port");
  assert.match(text, /systemctl try-restart rstudio-pool-jupyter\.service/, "a home mount restarts Jupyter if it runs, and starts nothing else");
  assert.match(text, /if \[ -f "\$R\/etc\/rstudio-pool\/rstudio" \]; then\n      systemctl restart rstudio-pool\.service/, "RStudio is restarted only where it is one of the apps");
  assert.equal(jupyterFrameAncestors("https://code.example.com"), "'self' vscode-webview: vscode-file: https://code.example.com");
});

test("busy check: Jupyter's busy kernels and recent last_activity are work; older readings parse as before", () => {
  assert.ok(BUSY_SCRIPT.some((l) => l.includes("no_track_activity=1")), "reading the kernels is not activity");
  const idle = parseBusyOutput("load=0.10 cpus=2 rsession=0 jupyter=0 jupyterIdle=900\n")!;
  assert.deepEqual(idle, { load: 0.1, cpus: 2, rsessionCpu: 0, jupyterBusyKernels: 0, jupyterIdleSeconds: 900 });
  assert.equal(isBusyReading(idle, 25), false);
  assert.equal(isBusyReading({ ...idle, jupyterBusyKernels: 1 }, 25), true);
  assert.equal(isBusyReading({ ...idle, jupyterIdleSeconds: 30 }, 25), true);
  assert.deepEqual(parseBusyOutput("load=0.10 cpus=2 rsession=0 jupyter=0 jupyterIdle=-1"), { load: 0.1, cpus: 2, rsessionCpu: 0, jupyterBusyKernels: 0 });
  assert.deepEqual(parseBusyOutput("load=1.90 cpus=2 rsession=3.0"), { load: 1.9, cpus: 2, rsessionCpu: 3 });
});
