/**
 * `rstudio-pool job ...` as a user runs it (the bundled CLI in a child process) against a
 * server that follows the jobs contract (test/support/jobs-stub.ts): what it sends, what it
 * prints where, its exit codes and its errors. The same commands against the real backend and
 * real Rscript: cli-jobs-real.test.ts.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { tempDir } from "../support/builders";
import { CLI, ensureBuilt, ROOT } from "../support/cli";
import { JobsStub } from "../support/jobs-stub";

const TOKEN = "rsp_stub-token-0123456789abcdefghijklmnopqrstu";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI in a child process, asynchronously (the stub answers in this process). */
function cli(args: string[], env: Record<string, string>, cwd: string, signalAfter?: { text: RegExp; signal: NodeJS.Signals }): Promise<Run> {
  return new Promise((resolve) => {
    const base: NodeJS.ProcessEnv = { ...process.env, HOME: cwd, XDG_CONFIG_HOME: path.join(cwd, ".config") };
    for (const k of ["POOL_URL", "POOL_TOKEN", "POOL_TOKEN_FILE", "RSTUDIO_POOL_TOKEN"]) delete base[k];
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let signalled = false;
    const check = () => {
      if (signalAfter && !signalled && signalAfter.text.test(stdout + stderr)) {
        signalled = true;
        child.kill(signalAfter.signal);
      }
    };
    child.stdout.on("data", (d) => ((stdout += d), check()));
    child.stderr.on("data", (d) => ((stderr += d), check()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("rstudio-pool job (against a contract stub)", () => {
  let stub: JobsStub;
  const dir = tempDir("cli-jobs-");
  let env: Record<string, string>;

  before(async () => {
    ensureBuilt();
    stub = await JobsStub.start({ token: TOKEN, purposes: ["rstudio", "big-memory"], maxScriptBytes: 4096 });
    env = { POOL_URL: stub.url, POOL_TOKEN: TOKEN };
    writeFileSync(path.join(dir, "model.R"), 'cat("hello\\n")\n');
    mkdirSync(path.join(dir, "data"));
    writeFileSync(path.join(dir, "data", "d.csv"), "a,b\n1,2\n");
  });
  after(async () => {
    await stub?.close();
  });

  it("job run prints the job id alone on stdout and sends the script, env, args and files", async () => {
    const r = await cli(["job", "run", "model.R", "--purpose", "big-memory", "--env", "MODEL_CONFIG=small.yaml", "-e", "SEED=7", "--file", "data/d.csv", "x", "y"], env, dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^job-\d{4}\n$/);
    assert.match(r.stderr, /submitted job job-\d{4} \(model\.R\) to big-memory: queued \(#1\)/);
    const post = stub.requests.find((q) => q.method === "POST" && q.path === "/v1/jobs")!;
    assert.deepEqual(post.body, {
      purpose: "big-memory",
      script: 'cat("hello\\n")\n',
      scriptName: "model.R",
      args: ["x", "y"],
      env: { MODEL_CONFIG: "small.yaml", SEED: "7" },
      files: [{ path: "data/d.csv", contentBase64: Buffer.from("a,b\n1,2\n").toString("base64") }],
    });
    assert.equal(post.authorization, `Bearer ${TOKEN}`);
  });

  it("--env NAME passes the CLI's own value (a secret stays off the command line)", async () => {
    const r = await cli(["job", "run", "model.R", "--env", "MODEL_CONFIG"], { ...env, MODEL_CONFIG: "from-my-env" }, dir);
    assert.equal(r.status, 0, r.stderr);
    const posts = stub.requests.filter((q) => q.method === "POST" && q.path === "/v1/jobs");
    assert.deepEqual((posts.at(-1)!.body as { env: unknown }).env, { MODEL_CONFIG: "from-my-env" });
  });

  it("job run --follow prints the log on stdout and exits with the job's exit code", async () => {
    const ok = await cli(["job", "run", "model.R", "-e", "MODEL_CONFIG=m1", "--follow"], env, dir);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, "running model.R\nMODEL_CONFIG=m1\ndone\n");
    assert.match(ok.stderr, /job job-\d{4} succeeded: exit 0, ran \d+s, cost 0\.\d{4} USD/);
    const failed = await cli(["job", "run", "model.R", "-e", "STUB_EXIT=3", "-f"], env, dir);
    assert.equal(failed.status, 3, failed.stderr);
    assert.match(failed.stderr, /failed: exit 3/);
  });

  it("job ls, show and log read the jobs back; log -f of an ended job exits with its code", async () => {
    const ls = await cli(["job", "ls"], env, dir);
    assert.equal(ls.status, 0, ls.stderr);
    const lines = ls.stdout.trim().split("\n");
    assert.deepEqual(lines[0]!.split("\t"), ["JOB", "STATE", "PURPOSE", "SCRIPT", "EXIT", "CREATED", "COST"]);
    assert.ok(lines.some((l) => /\tfailed\trstudio\tmodel\.R\t3\t/.test(l)), ls.stdout);
    const failedId = lines.find((l) => /\tfailed\t/.test(l))!.split("\t")[0]!;
    const show = await cli(["job", "show", failedId], env, dir);
    assert.match(show.stdout, /^state:\tfailed$/m);
    assert.match(show.stdout, /^exit code:\t3$/m);
    const json = JSON.parse((await cli(["job", "show", failedId, "--json"], env, dir)).stdout);
    assert.equal(json.jobId, failedId);
    const log = await cli(["job", "log", failedId], env, dir);
    assert.equal(log.stdout, "running model.R\nMODEL_CONFIG=\ndone\n");
    const logF = await cli(["job", "log", "-f", failedId], env, dir);
    assert.equal(logF.status, 3);
  });

  it("job cancel stops a job; cancelling it again is JOB_ENDED with the next step", async () => {
    // A job that stays queued long enough to be cancelled on a busy machine.
    const slow = await JobsStub.start({ token: TOKEN, queuedMs: 120_000 });
    const env = { POOL_URL: slow.url, POOL_TOKEN: TOKEN };
    after(() => slow.close());
    const id = (await cli(["job", "run", "model.R"], env, dir)).stdout.trim();
    const c = await cli(["job", "cancel", id], env, dir);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stderr, new RegExp(`job ${id}: cancelled`));
    const again = await cli(["job", "cancel", id], env, dir);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^error JOB_ENDED: .*\n.*job show <id>/);
    const f = await cli(["job", "log", "-f", id], env, dir);
    assert.equal(f.status, 130, "a cancelled job exits 130 when followed");
  });

  it("Ctrl-C while following stops following, leaves the job running and says how to cancel it", async () => {
    const slow = await JobsStub.start({ token: TOKEN, queuedMs: 60_000 });
    try {
      const r = await cli(["job", "run", "model.R", "--follow"], { POOL_URL: slow.url, POOL_TOKEN: TOKEN }, dir, { text: /submitted job/, signal: "SIGINT" });
      assert.equal(r.status, 130);
      assert.match(r.stderr, /stopped following; job job-0001 keeps running \(cancel it with `rstudio-pool job cancel job-0001`\)/);
      assert.equal(slow.requests.filter((q) => q.method === "DELETE").length, 0);
    } finally {
      await slow.close();
    }
  });

  it("bad input: unknown purpose, too large, no such job, bad --env: a stable code and what to do next", async () => {
    const purpose = await cli(["job", "run", "model.R", "--purpose", "gpu"], env, dir);
    assert.equal(purpose.status, 1);
    assert.match(purpose.stderr, /error UNKNOWN_PURPOSE: Unknown purpose "gpu".*\n.*rstudio-pool job purposes/);
    writeFileSync(path.join(dir, "big.csv"), "x".repeat(5000));
    const big = await cli(["job", "run", "model.R", "--file", "big.csv"], env, dir);
    assert.equal(big.status, 1);
    assert.match(big.stderr, /error SCRIPT_TOO_LARGE: .*\n.*home/);
    const missing = await cli(["job", "show", "job-9999"], env, dir);
    assert.match(missing.stderr, /error JOB_NOT_FOUND: .*\n.*job ls/);
    const before = stub.requests.length;
    const badEnv = await cli(["job", "run", "model.R", "--env", "MODEL-CONFIG=x"], env, dir);
    assert.equal(badEnv.status, 2);
    assert.match(badEnv.stderr, /error INVALID_REQUEST: --env MODEL-CONFIG=x: "MODEL-CONFIG" is not a variable name/);
    const unset = await cli(["job", "run", "model.R", "--env", "MODEL_SECRET"], env, dir);
    assert.equal(unset.status, 2);
    assert.match(unset.stderr, /MODEL_SECRET is not set in your environment/);
    const noFile = await cli(["job", "run", "nope.R"], env, dir);
    assert.equal(noFile.status, 2);
    assert.equal(stub.requests.length, before, "usage errors send nothing");
    const purposes = await cli(["job", "purposes"], env, dir);
    assert.match(purposes.stdout, /^big-memory\t0\.42 USD\t\t/m);
  });

  it("reads the token from a file, never prints it, and names its source when it is refused", async () => {
    const file = path.join(dir, "token");
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const viaFile = await cli(["job", "ls"], { POOL_URL: stub.url, POOL_TOKEN_FILE: file }, dir);
    assert.equal(viaFile.status, 0, viaFile.stderr);
    mkdirSync(path.join(dir, ".config", "rstudio-pool"), { recursive: true });
    writeFileSync(path.join(dir, ".config", "rstudio-pool", "token"), TOKEN);
    assert.equal((await cli(["job", "ls"], { POOL_URL: stub.url }, dir)).status, 0, "the default token file");
    const bad = await cli(["job", "ls"], { POOL_URL: stub.url, POOL_TOKEN: `${TOKEN}x` }, dir);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /error UNAUTHORIZED: .*\(token from POOL_TOKEN\)\n.*rstudio-pool user token/);
    for (const r of [viaFile, bad]) assert.ok(!(r.stdout + r.stderr).includes(TOKEN.slice(4, 20)), "the token is never printed");
    const down = await cli(["job", "ls"], { POOL_URL: "http://127.0.0.1:9", POOL_TOKEN: TOKEN }, dir);
    assert.equal(down.status, 1);
    assert.match(down.stderr, /error BACKEND_UNREACHABLE: the backend at http:\/\/127\.0\.0\.1:9 does not answer.*\n.*POOL_URL/);
  });

  it("job keep-alive sets, shows and ends a hold; a missing hold and bad arguments say what to do", async () => {
    const inst = "rsp-0123456789abcdef";
    const set = await cli(["job", "keep-alive", inst, "--pid", "4242", "--hours", "2"], env, dir);
    assert.equal(set.status, 0, set.stderr);
    assert.match(set.stdout, /^pid:\t4242$/m);
    assert.match(set.stdout, /^state:\tactive$/m);
    assert.match(set.stderr, new RegExp(`keeping ${inst} while pid 4242 runs, at most until \\d{4}-`));
    const post = stub.requests.filter((q) => q.method === "POST" && q.path === `/v1/instances/${inst}/keep-alive`).at(-1)!;
    assert.deepEqual(post.body, { pid: 4242, maxHours: 2 });
    const dflt = await cli(["job", "keep-alive", inst, "--pid", "4243"], env, dir);
    assert.equal(dflt.status, 0, dflt.stderr);
    assert.deepEqual(stub.requests.filter((q) => q.method === "POST").at(-1)!.body, { pid: 4243, maxHours: 8 }, "8 hours unless told");
    const show = JSON.parse((await cli(["job", "keep-alive", inst, "--show", "--json"], env, dir)).stdout);
    assert.equal(show.pid, 4243);
    assert.equal(show.endedReason, null);
    const end = await cli(["job", "keep-alive", inst, "--end"], env, dir);
    assert.equal(end.status, 0, end.stderr);
    assert.match(end.stdout, /^state:\tended \(cancelled\)$/m);
    assert.match(end.stderr, /ended the hold on rsp-0123456789abcdef \(cost since it was set 0\.00 USD\); the usual idle timeout applies again/);
    assert.equal(stub.requests.filter((q) => q.method === "DELETE" && q.path === `/v1/instances/${inst}/keep-alive`).length, 1);

    const none = await cli(["job", "keep-alive", "rsp-00000000000000ff", "--show"], env, dir);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /^error NOT_FOUND: .*\nSet one with `rstudio-pool job keep-alive rsp-00000000000000ff --pid N`/);
    const tooLong = await cli(["job", "keep-alive", inst, "--pid", "4242", "--hours", "100"], env, dir);
    assert.equal(tooLong.status, 1, "the backend owns the 72-hour limit");
    assert.match(tooLong.stderr, /error INVALID_REQUEST: .*maxHours.*72/);
    const before = stub.requests.length;
    for (const args of [[], ["--pid", "abc"], ["--show", "--end"], ["--end", "--hours", "2"]]) {
      const r = await cli(["job", "keep-alive", inst, ...args], env, dir);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^error INVALID_REQUEST: /);
    }
    assert.equal(stub.requests.length, before, "usage errors send nothing");
  });

  it("job log of a job whose log the backend removed: JOB_LOG_EXPIRED and where the outcome still is", async () => {
    const id = (await cli(["job", "run", "model.R"], env, dir)).stdout.trim();
    assert.equal((await cli(["job", "log", "-f", id], env, dir)).status, 0);
    stub.expiredLogs.add(id);
    for (const args of [["job", "log", id], ["job", "log", "-f", id]]) {
      const r = await cli(args, env, dir);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^error JOB_LOG_EXPIRED: The log of job .* was removed .*\n.*`rstudio-pool job show <id>`/);
    }
  });

  it("is wired into the main CLI's help", async () => {
    const help = await cli(["--help"], {}, ROOT);
    assert.match(help.stdout, /job \[options\]\s+run R scripts as batch jobs/);
  });
});
