import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildLaunchCommand, type RuntimeInputs } from "../../backend/providers/local/runtimes";
import { placeholderPage } from "../../backend/providers/local/placeholder-app";

const base: RuntimeInputs = {
  runtime: "placeholder",
  port: 41234,
  instanceId: "rsp-0123456789abcdef",
  purpose: "rstudio",
  dataDir: "/var/lib/pool",
  command: null,
  rstudioImage: "rocker/rstudio:4.4",
  placeholder: { file: "/usr/bin/node", args: ["/app/dist/backend/placeholder.js"] },
};

describe("local runtimes", () => {
  it("runs rocker/rstudio published on loopback only", () => {
    const c = buildLaunchCommand({ ...base, runtime: "docker" });
    assert.equal(c.file, "docker");
    assert.deepEqual(c.args, [
      "run", "--rm", "--name", "rstudio-pool-rsp-0123456789abcdef", "--label", "rstudio-pool.instance=rsp-0123456789abcdef",
      "-p", "127.0.0.1:41234:8787", "-e", "DISABLE_AUTH=true", "rocker/rstudio:4.4",
    ]);
  });

  it("runs rserver bound to 127.0.0.1 in the foreground", () => {
    const c = buildLaunchCommand({ ...base, runtime: "rserver" });
    assert.equal(c.file, "rserver");
    assert.ok(c.args.includes("--www-port=41234"));
    assert.ok(c.args.includes("--www-address=127.0.0.1"));
    assert.ok(c.args.includes("--server-daemonize=0"));
    assert.ok(c.args.includes("--server-data-dir=/var/lib/pool/rserver/rsp-0123456789abcdef"));
  });

  it("fills {port} in a command template", () => {
    const c = buildLaunchCommand({ ...base, runtime: "command", command: "python3 -m http.server {port} --bind 127.0.0.1" });
    assert.deepEqual(c, { file: "/bin/sh", args: ["-c", "python3 -m http.server 41234 --bind 127.0.0.1"] });
    assert.throws(() => buildLaunchCommand({ ...base, runtime: "command", command: null }));
  });

  it("starts the placeholder with its port, instance and purpose", () => {
    const c = buildLaunchCommand(base);
    assert.deepEqual(c, {
      file: "/usr/bin/node",
      args: ["/app/dist/backend/placeholder.js", "--port", "41234", "--instance", "rsp-0123456789abcdef", "--purpose", "rstudio"],
    });
  });

  it("the placeholder page says plainly that it is not RStudio, and escapes what it shows", () => {
    const html = placeholderPage("<script>x</script>", "r&d", new Date(0));
    assert.match(html, /stands in for RStudio Server/);
    assert.ok(!html.includes("<script>x</script>"));
    assert.match(html, /&#60;script&#62;/);
    assert.match(html, /r&#38;d/);
  });
});
