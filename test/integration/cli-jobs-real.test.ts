/**
 * `rstudio-pool job ...` against the real backend: `serve` (SQLite, the local provider, its
 * placeholder instances) running real Rscript jobs. A job that succeeds (its log and result
 * file), one that exits 3 (the CLI exits 3), one cancelled while it runs, and bad input.
 * Skipped loudly without Rscript, failed under R_REQUIRED=1 or CI=true.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { tempDir } from "../support/builders";
import { CLI, ROOT, runCli, startServe, type ServeHandle } from "../support/cli";
import { killJobProcesses, rSkip } from "../support/jobs";
import { killLocalInstances } from "../support/local";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>, cwd: string, onOutput?: (all: string, kill: () => void) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, HOME: cwd, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const seen = () => onOutput?.(stdout + stderr, () => child.kill("SIGINT"));
    child.stdout.on("data", (d) => ((stdout += d), seen()));
    child.stderr.on("data", (d) => ((stderr += d), seen()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("rstudio-pool job against the real backend and Rscript", { skip: rSkip() }, () => {
  const dataDir = tempDir("cli-jobs-real-");
  const work = tempDir("cli-jobs-work-");
  const config = path.join(dataDir, "pool.yaml");
  const env: Record<string, string> = { POOL_DATA_DIR: dataDir, POOL_CONFIG: config, POOL_LOCAL_RUNTIME: "placeholder", POOL_TICK_MS: "250", LOG_LEVEL: "info" };
  let server: ServeHandle;
  let user: Record<string, string>;

  before(async () => {
    writeFileSync(
      config,
      JSON.stringify({ pool: { name: `cli-jobs-${process.pid}` }, purposes: [{ name: "rstudio", max: 2, hourlyPrice: 3.6 }, { name: "tiny", max: 1, hourlyPrice: 1, jobs: { maxScriptBytes: 1024 } }] }),
    );
    server = await startServe(env);
    const token = runCli(["user", "add", "carol"], env).stdout.trim();
    assert.match(token, /^rsp_/);
    user = { POOL_URL: server.url, POOL_TOKEN: token };
    writeFileSync(path.join(work, "model.R"), 'cfg <- Sys.getenv("MODEL_CONFIG")\ncat("config", cfg, "\\n")\nd <- read.csv("data/d.csv")\ncat("rows", nrow(d), "\\n")\nwriteLines(paste("sum", sum(d$x)), "result.txt")\n');
    writeFileSync(path.join(work, "fail.R"), 'cat("about to fail\\n")\nquit(status = 3)\n');
    writeFileSync(path.join(work, "slow.R"), 'cat("started\\n")\nSys.sleep(120)\ncat("never\\n")\n');
    const { mkdirSync } = await import("node:fs");
    mkdirSync(path.join(work, "data"));
    writeFileSync(path.join(work, "data", "d.csv"), "x\n1\n2\n39\n");
  });

  after(async () => {
    await server?.stop();
    killJobProcesses(dataDir);
    killLocalInstances(dataDir);
  });

  it("job run --follow: the R output on stdout, the env and the file reach R, exit 0, a cost", async () => {
    const r = await cli(["job", "run", "model.R", "--env", "MODEL_CONFIG=m1.yaml", "--file", "data/d.csv", "--follow"], user, work);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /config m1\.yaml/);
    assert.match(r.stdout, /rows 3/);
    assert.match(r.stderr, /submitted job \S+ \(model\.R\) to rstudio: (queued|starting|running)/);
    assert.match(r.stderr, /job \S+ succeeded: exit 0, ran \d+s, cost \d+\.\d+ USD/);
    const ls = await cli(["job", "ls", "--json"], user, work);
    const [job] = JSON.parse(ls.stdout);
    assert.equal(job.state, "succeeded");
    assert.equal(job.exitCode, 0);
  });

  it("a job that exits 3 makes the CLI exit 3; its log reads back", async () => {
    const r = await cli(["job", "run", "fail.R", "-f"], user, work);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stdout, /about to fail/);
    assert.match(r.stderr, /failed: exit 3/);
    const id = /submitted job (\S+)/.exec(r.stderr)![1]!;
    const log = await cli(["job", "log", id], user, work);
    assert.match(log.stdout, /about to fail/);
    const f = await cli(["job", "log", "-f", id], user, work);
    assert.equal(f.status, 3);
  });

  it("job cancel stops a running job: a followed job then exits 130; cancelling again is JOB_ENDED", async () => {
    const id = (await cli(["job", "run", "slow.R"], user, work)).stdout.trim();
    assert.ok(id);
    // Wait for it to print, so the cancel hits a running R process.
    const follow = cli(["job", "log", "-f", id], user, work);
    for (let i = 0; i < 240; i++) {
      const log = await cli(["job", "log", id], user, work);
      if (/started/.test(log.stdout)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const c = await cli(["job", "cancel", id], user, work);
    assert.equal(c.status, 0, c.stderr);
    const followed = await follow;
    assert.equal(followed.status, 130, followed.stderr);
    assert.match(followed.stdout, /started/);
    assert.doesNotMatch(followed.stdout, /never/);
    const again = await cli(["job", "cancel", id], user, work);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^error JOB_ENDED: /);
  });

  it("bad input: no such purpose, too large for the purpose, another user's job, a bad token", async () => {
    const purpose = await cli(["job", "run", "model.R", "--purpose", "gpu"], user, work);
    assert.equal(purpose.status, 1);
    assert.match(purpose.stderr, /^error UNKNOWN_PURPOSE: /m);
    writeFileSync(path.join(work, "big.csv"), "y\n".repeat(2000));
    const big = await cli(["job", "run", "model.R", "--purpose", "tiny", "--file", "big.csv"], user, work);
    assert.equal(big.status, 1);
    assert.match(big.stderr, /^error SCRIPT_TOO_LARGE: /m);
    const mine = JSON.parse((await cli(["job", "ls", "--json"], user, work)).stdout)[0].jobId;
    const dave = runCli(["user", "add", "dave"], env).stdout.trim();
    const other = await cli(["job", "show", mine], { POOL_URL: server.url, POOL_TOKEN: dave }, work);
    assert.equal(other.status, 1);
    assert.match(other.stderr, /^error JOB_NOT_FOUND: /m);
    const bad = await cli(["job", "ls"], { POOL_URL: server.url, POOL_TOKEN: "rsp_not-a-real-token" }, work);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^error UNAUTHORIZED: /m);
    assert.ok(!server.output().includes(user.POOL_TOKEN!.slice(4, 20)), "the token is not in the backend's logs");
  });

  it("job keep-alive holds a claimed instance while a real process runs, then says it ended", async () => {
    const claim = await fetch(`${server.url}/v1/claims`, { method: "POST", headers: { authorization: `Bearer ${user.POOL_TOKEN}`, "content-type": "application/json" }, body: "{}" });
    assert.equal(claim.status < 300, true, await claim.clone().text());
    const inst = ((await claim.json()) as { instance: { instanceId: string } }).instance.instanceId;
    const sleeper = spawn("sleep", ["120"], { detached: true, stdio: "ignore" });
    try {
      const set = await cli(["job", "keep-alive", inst, "--pid", String(sleeper.pid), "--hours", "1"], user, work);
      assert.equal(set.status, 0, set.stderr);
      assert.match(set.stdout, /^state:\tactive$/m);
      const show = JSON.parse((await cli(["job", "keep-alive", inst, "--show", "--json"], user, work)).stdout);
      assert.equal(show.pid, sleeper.pid);
      assert.equal(show.endedReason, null);
      sleeper.kill("SIGKILL");
      let ended: { endedReason: string | null } = show;
      for (let i = 0; i < 60 && ended.endedReason === null; i++) {
        await new Promise((r) => setTimeout(r, 500));
        ended = JSON.parse((await cli(["job", "keep-alive", inst, "--show", "--json"], user, work)).stdout);
      }
      assert.equal(ended.endedReason, "process-ended", "the jobs loop saw the process end");
      const end = await cli(["job", "keep-alive", inst, "--end"], user, work);
      assert.equal(end.status, 0, end.stderr);
      assert.match(end.stderr, /the hold had already ended \(process-ended\)/);
      const other = await cli(["job", "keep-alive", inst, "--show"], { POOL_URL: server.url, POOL_TOKEN: runCli(["user", "add", "erin"], env).stdout.trim() }, work);
      assert.equal(other.status, 1);
      assert.match(other.stderr, /^error INSTANCE_NOT_FOUND: /m);
    } finally {
      sleeper.kill("SIGKILL");
    }
  });

  it("lists the purposes", async () => {
    const r = await cli(["job", "purposes"], user, ROOT);
    assert.match(r.stdout, /^rstudio\t3\.60 USD\tyes\t/m);
    assert.match(r.stdout, /^tiny\t1\.00 USD\t\t/m);
  });
});
