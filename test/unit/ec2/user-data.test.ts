import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { renderUserData, shellQuote, userDataBase64, userDataTemplate } from "../../../backend/providers/ec2/user-data";

const base = { mode: "container" as const, rstudioImage: "rocker/rstudio:4.4", rPackages: ["data.table", "ggplot2"], frameOrigin: "any", waitForHome: true };

test("the template's placeholders are all known and the rendered script is valid bash", () => {
  const text = renderUserData(base);
  assert.doesNotMatch(text, /\{\{\w+\}\}/);
  const res = spawnSync("bash", ["-n"], { input: text });
  assert.equal(res.status, 0, res.stderr.toString());
});

test("RStudio settings: loopback port 8787, framing allowed, SameSite none, no login page", () => {
  const text = renderUserData(base);
  assert.match(text, /^www-port=\$RSTUDIO_PORT$/m);
  assert.match(text, /^RSTUDIO_PORT=8787$/m);
  assert.match(text, /^www-frame-origin=\$FRAME_ORIGIN$/m);
  assert.match(text, /^FRAME_ORIGIN='any'$/m);
  assert.match(text, /^www-same-site=none$/m);
  assert.match(text, /^auth-none=1$/m);
  // baked: rserver itself listens on 127.0.0.1; container: published on the host's 127.0.0.1 only
  assert.match(text, /if \[ "\$MODE" = "baked" \]; then RSTUDIO_ADDRESS=127\.0\.0\.1/);
  assert.match(text, /-p 127\.0\.0\.1:\$RSTUDIO_PORT:8787/);
  assert.doesNotMatch(text, /-p 0\.0\.0\.0|-p \$RSTUDIO_PORT|--network host/);
});

test("container mode runs the purpose's image with its R packages and the home bind-mounted", () => {
  const text = renderUserData(base);
  assert.match(text, /^MODE='container'$/m);
  assert.match(text, /^RSTUDIO_IMAGE='rocker\/rstudio:4\.4'$/m);
  assert.match(text, /^R_PACKAGES='data\.table ggplot2'$/m);
  assert.match(text, /install2\.r --error --skipinstalled/);
  assert.match(text, /-v \$HOME_MOUNT:\/home\/rstudio/);
});

test("an owned launch waits for its home (the backend mounts it); a warm one starts RStudio at boot", () => {
  assert.match(renderUserData(base), /^WAIT_FOR_HOME='1'$/m);
  assert.match(renderUserData({ ...base, waitForHome: false }), /^WAIT_FOR_HOME='0'$/m);
  assert.match(userDataTemplate(), /nvme-Amazon_Elastic_Block_Store_\$\{serial\}/);
});

test("values cannot break out of their shell word", () => {
  const text = renderUserData({ ...base, rstudioImage: "x'; rm -rf / #" });
  assert.match(text, /^RSTUDIO_IMAGE='x'\\''; rm -rf \/ #'$/m);
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  const res = spawnSync("bash", ["-c", `${text.split("\n").find((l) => l.startsWith("RSTUDIO_IMAGE="))}; printf %s "$RSTUDIO_IMAGE"`]);
  assert.equal(res.stdout.toString(), "x'; rm -rf / #");
});

test("base64 round-trips and stays under EC2's 16 KB", () => {
  const b64 = userDataBase64(base);
  assert.equal(Buffer.from(b64, "base64").toString("utf8"), renderUserData(base));
  assert.ok(Buffer.from(b64, "base64").length < 16 * 1024);
  assert.throws(() => renderUserData({ ...base, rPackages: Array(5000).fill("abcdef") }), /EC2 allows 16384/);
});
