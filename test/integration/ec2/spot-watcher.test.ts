/**
 * Runs the real on-instance spot watcher (backend/providers/ec2/spot-watcher.sh) against a fake
 * IMDSv2, with stand-ins for `rstudio-server suspend-all` and the home unmount that record
 * their calls. Notices appear and disappear while it polls, as EC2's do.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startFakeImds, type FakeImds } from "../../support/aws/fake-imds";

const script = path.resolve(__dirname, "../../../backend/providers/ec2/spot-watcher.sh");

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("spot watcher on the instance", () => {
  let imds: FakeImds;
  let dir: string;
  let watcher: ChildProcess;
  let output = "";
  const calls = () => (existsSync(path.join(dir, "calls")) ? readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n") : []);
  const notice = () => {
    const f = path.join(dir, "state", "notice.json");
    return existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) : null;
  };

  before(async () => {
    imds = await startFakeImds();
    dir = mkdtempSync(path.join(tmpdir(), "spot-watcher-"));
    for (const name of ["suspend", "unmount"]) {
      const f = path.join(dir, name);
      writeFileSync(f, `#!/bin/sh\necho ${name} >>"${dir}/calls"\n`);
      chmodSync(f, 0o755);
    }
    watcher = spawn("bash", [script], {
      // Only what the script reads: no inherited secrets, as on the instance.
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        WATCHER_IMDS_ENDPOINT: imds.url,
        WATCHER_POLL_SECONDS: "0.1",
        WATCHER_STATE_DIR: path.join(dir, "state"),
        WATCHER_SUSPEND_CMD: path.join(dir, "suspend"),
        WATCHER_UNMOUNT_CMD: path.join(dir, "unmount"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    watcher.stdout!.on("data", (b) => (output += b));
    watcher.stderr!.on("data", (b) => (output += b));
  });

  after(async () => {
    watcher?.kill("SIGKILL");
    await imds?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("polls with an IMDSv2 token and writes nothing while there is no notice", async () => {
    await until("a few polls", () => imds.requests.filter((r) => r.path.endsWith("/spot/instance-action")).length >= 3);
    assert.ok(imds.requests.some((r) => r.method === "PUT" && r.path === "/latest/api/token"));
    assert.deepEqual(imds.requests.filter((r) => r.method === "GET" && !r.hadToken), [], "every read carries the session token");
    assert.equal(notice(), null);
    assert.deepEqual(calls(), []);
  });

  it("reports a rebalance recommendation, and withdraws it when EC2 does", async () => {
    imds.set("events/recommendations/rebalance", JSON.stringify({ noticeTime: "2026-12-01T08:22:00Z" }));
    await until("the rebalance notice", () => notice()?.kind === "rebalance");
    assert.equal(notice().notice.noticeTime, "2026-12-01T08:22:00Z");
    assert.deepEqual(calls(), [], "a recommendation alone suspends nothing");
    imds.set("events/recommendations/rebalance", null);
    await until("the notice to go", () => notice() === null);
  });

  it("on an interruption warning suspends, unmounts once, and says so", async () => {
    imds.set("spot/instance-action", JSON.stringify({ action: "terminate", time: "2026-12-01T08:24:00Z" }));
    await until("the handled notice", () => notice()?.doneAt !== undefined);
    const n = notice();
    assert.equal(n.kind, "interruption");
    assert.equal(n.notice.action, "terminate");
    assert.equal(n.suspended, true);
    assert.equal(n.unmounted, true);
    assert.deepEqual(calls(), ["suspend", "unmount"], "suspend before unmount");
    // The metadata keeps showing the warning until the end: it is acted on only once.
    const polls = imds.requests.length;
    await until("more polls", () => imds.requests.length >= polls + 10);
    assert.deepEqual(calls(), ["suspend", "unmount"]);
    assert.match(output, /interruption handled \(suspended=true unmounted=true\)/);
  });
});
