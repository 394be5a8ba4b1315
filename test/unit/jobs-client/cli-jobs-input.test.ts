import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobLogChunk, JobView } from "../../../contract/jobs";
import { followLog } from "../../../backend/cli-jobs-client";
import { buildJobRequest, DEFAULT_HOLD_HOURS, defaultTokenFile, jobExitCode, JobCliError, MAX_UPLOAD_BYTES, nextStep, parseEnvPairs, parseKeepAlive, remoteFilePath, resolveConnection } from "../../../backend/cli-jobs-input";

function aJob(over: Partial<JobView> = {}): JobView {
  return {
    jobId: "job-1", purpose: "big-memory", ownerId: "alice", runner: "pool", state: "running", stateReason: null, scriptName: "model.R",
    queuePosition: null, instanceId: "i-1", exitCode: null, createdAt: "2026-12-02T00:00:00.000Z", startedAt: "2026-12-02T00:00:01.000Z",
    endedAt: null, deadlineAt: null, cost: 0, currency: "USD", ...over,
  };
}

const files = (contents: Record<string, string | Buffer>) => ({
  size: (f: string) => {
    const c = contents[f];
    if (c === undefined) throw new Error("ENOENT");
    return Buffer.byteLength(c);
  },
  read: (f: string) => Buffer.from(contents[f]!),
});

describe("job run arguments", () => {
  it("parses --env NAME=value, keeps = in values, and a later name wins", () => {
    assert.deepEqual(parseEnvPairs(["MODEL_CONFIG=a=b", "N=1", "N=2", "EMPTY="]), { MODEL_CONFIG: "a=b", N: "2", EMPTY: "" });
  });

  it("takes NAME alone from the CLI's own environment, so a secret stays off the command line", () => {
    assert.deepEqual(parseEnvPairs(["API_KEY", "N=1"], { API_KEY: "s3cret" }), { API_KEY: "s3cret", N: "1" });
    assert.throws(() => parseEnvPairs(["API_KEY"], {}), (e: unknown) => e instanceof JobCliError && e.exitCode === 2 && /API_KEY is not set in your environment/.test(e.message));
  });

  it("refuses a name a shell would not take, as a usage error", () => {
    for (const bad of ["1X=a", "A-B=c", "=v", "A B=c", "1X"]) {
      assert.throws(() => parseEnvPairs([bad]), (e: unknown) => e instanceof JobCliError && e.code === "INVALID_REQUEST" && e.exitCode === 2, bad);
    }
  });

  it("keeps relative paths under the current directory, else the base name", () => {
    assert.equal(remoteFilePath("data/x.csv", "/home/a/proj"), "data/x.csv");
    assert.equal(remoteFilePath("./x.csv", "/home/a/proj"), "x.csv");
    assert.equal(remoteFilePath("../other/y.csv", "/home/a/proj"), "y.csv");
    assert.equal(remoteFilePath("/etc/z.csv", "/home/a/proj"), "z.csv");
  });

  it("builds the request: script text, its name, args, env, files in base64", () => {
    const req = buildJobRequest(
      { script: "model.R", args: ["--n", "5"], purpose: "big-memory", env: ["MODEL_CONFIG=m.yaml"], files: ["data/d.csv"] },
      "/p",
      files({ "/p/model.R": "cat(1)\n", "/p/data/d.csv": Buffer.from([0, 1, 2, 255]) }),
    );
    assert.deepEqual(req, {
      purpose: "big-memory",
      script: "cat(1)\n",
      scriptName: "model.R",
      args: ["--n", "5"],
      env: { MODEL_CONFIG: "m.yaml" },
      files: [{ path: "data/d.csv", contentBase64: Buffer.from([0, 1, 2, 255]).toString("base64") }],
    });
  });

  it("gives the script a plain file name, as the backend takes", () => {
    const req = buildJobRequest({ script: "my model.R", args: [], env: [], files: [] }, "/p", files({ "/p/my model.R": "1" }));
    assert.equal(req.scriptName, "my_model.R");
  });

  it("leaves out what was not given (the backend's default purpose applies)", () => {
    assert.deepEqual(buildJobRequest({ script: "/abs/m.R", args: [], env: [], files: [] }, "/p", files({ "/abs/m.R": "1" })), { script: "1", scriptName: "m.R" });
  });

  it("fails before sending on a missing file, two files with one name, or too many bytes", () => {
    const usage = (code: string) => (e: unknown) => e instanceof JobCliError && e.code === code && e.exitCode === 2;
    assert.throws(() => buildJobRequest({ script: "m.R", args: [], env: [], files: [] }, "/p", files({})), usage("INVALID_REQUEST"));
    assert.throws(() => buildJobRequest({ script: "m.R", args: [], env: [], files: ["a/x.csv", "/b/x.csv", "x.csv"] }, "/p", files({ "/p/m.R": "1", "/p/a/x.csv": "", "/b/x.csv": "", "/p/x.csv": "" })), usage("INVALID_REQUEST"));
    assert.throws(() => buildJobRequest({ script: "m.R", args: [], env: [], files: ["/o/m.R"] }, "/p", files({ "/p/m.R": "1", "/o/m.R": "2" })), usage("INVALID_REQUEST"));
    const big = { size: () => MAX_UPLOAD_BYTES, read: () => { throw new Error("must not read"); } };
    assert.throws(() => buildJobRequest({ script: "m.R", args: [], env: [], files: ["d"] }, "/p", big), usage("SCRIPT_TOO_LARGE"));
  });
});

describe("exit codes", () => {
  it("succeeded 0, failed with the job's exit code, cancelled 130, failed without a code 1", () => {
    assert.equal(jobExitCode({ state: "succeeded", exitCode: 0 }), 0);
    assert.equal(jobExitCode({ state: "failed", exitCode: 3 }), 3);
    assert.equal(jobExitCode({ state: "failed", exitCode: null }), 1);
    assert.equal(jobExitCode({ state: "failed", exitCode: 300 }), 1);
    assert.equal(jobExitCode({ state: "failed", exitCode: 0 }), 1, "a failure never exits 0");
    assert.equal(jobExitCode({ state: "cancelled", exitCode: null }), 130);
  });

  it("every contract error a job command can meet has a next step", () => {
    for (const code of ["UNAUTHORIZED", "UNKNOWN_PURPOSE", "SCRIPT_TOO_LARGE", "JOB_LIMIT", "JOB_NOT_FOUND", "JOB_ENDED", "BUDGET_EXCEEDED", "POOL_EXHAUSTED", "BACKEND_UNREACHABLE"]) {
      assert.ok(nextStep(code), code);
    }
    assert.equal(nextStep("SOMETHING_NEW"), null);
  });
});

describe("finding the backend and the token", () => {
  const none = () => {
    throw new Error("ENOENT");
  };
  it("takes POOL_URL and POOL_TOKEN; a flag URL wins; trailing slashes go", () => {
    const c = resolveConnection({ env: { POOL_URL: "http://pool:8080/", POOL_TOKEN: " t1 " }, readFile: none, homeDir: "/h" });
    assert.deepEqual(c, { url: "http://pool:8080", token: "t1", tokenSource: "POOL_TOKEN" });
    assert.equal(resolveConnection({ urlFlag: "https://x", env: { POOL_URL: "http://pool", POOL_TOKEN: "t" }, readFile: none, homeDir: "/h" }).url, "https://x");
    assert.equal(resolveConnection({ env: { POOL_TOKEN: "t" }, readFile: none, homeDir: "/h" }).url, "http://127.0.0.1:8080");
  });

  it("reads the token from --token-file, POOL_TOKEN_FILE, RSTUDIO_POOL_TOKEN, then the default file, in that order", () => {
    const read = (f: string) => ({ "/flag": "from-flag\n", "/envfile": "from-env-file\n", "/h/.config/rstudio-pool/token": "from-default\n" })[f] ?? none();
    assert.equal(resolveConnection({ tokenFileFlag: "/flag", env: { POOL_TOKEN: "t" }, readFile: read, homeDir: "/h" }).token, "from-flag");
    assert.equal(resolveConnection({ env: { POOL_TOKEN_FILE: "/envfile", RSTUDIO_POOL_TOKEN: "x" }, readFile: read, homeDir: "/h" }).token, "from-env-file");
    assert.equal(resolveConnection({ env: { RSTUDIO_POOL_TOKEN: "vs" }, readFile: read, homeDir: "/h" }).token, "vs");
    assert.equal(resolveConnection({ env: {}, readFile: read, homeDir: "/h" }).token, "from-default");
    assert.equal(defaultTokenFile({ XDG_CONFIG_HOME: "/xdg" }, "/h"), "/xdg/rstudio-pool/token");
  });

  it("says how to get a token when there is none, and refuses a URL that is not http(s)", () => {
    assert.throws(() => resolveConnection({ env: {}, readFile: none, homeDir: "/h" }), (e: unknown) => e instanceof JobCliError && e.code === "NOT_SIGNED_IN" && /POOL_TOKEN/.test(e.message));
    assert.throws(() => resolveConnection({ env: { POOL_TOKEN_FILE: "/missing" }, readFile: none, homeDir: "/h" }), /cannot read the token file \/missing/);
    assert.throws(() => resolveConnection({ env: { POOL_URL: "ftp://x", POOL_TOKEN: "t" }, readFile: none, homeDir: "/h" }), /not an http/);
  });
});

describe("followLog", () => {
  function fakeBackend(chunks: (JobLogChunk | Error)[], final: JobView) {
    const offsets: number[] = [];
    return {
      offsets,
      client: {
        log: async (_id: string, offset: number) => {
          offsets.push(offset);
          const c = chunks.shift()!;
          if (c instanceof Error) throw c;
          return c;
        },
        get: async () => final,
      },
    };
  }
  const chunk = (offset: number, text: string, complete = false, nextOffset = offset + Buffer.byteLength(text)): JobLogChunk => ({ jobId: "job-1", offset, nextOffset, text, complete });

  it("prints every chunk once, always asks from the last nextOffset, and returns the ended job", async () => {
    const final = aJob({ state: "failed", exitCode: 3 });
    // An opaque next offset (a runner whose positions are not bytes) is passed back as given.
    const b = fakeBackend([chunk(0, "a\n", false, 1000), chunk(1000, ""), chunk(1000, "b\n"), chunk(1002, "c\n", true)], final);
    let out = "";
    const ended = await followLog(b.client, "job-1", { write: (t) => (out += t), sleep: async () => undefined });
    assert.equal(out, "a\nb\nc\n");
    assert.deepEqual(b.offsets, [0, 1000, 1000, 1002]);
    assert.equal(ended, final);
  });

  it("rides out a backend restart (unreachable a few times) and gives up on a real error", async () => {
    const down = new JobCliError("BACKEND_UNREACHABLE", "down");
    const b = fakeBackend([chunk(0, "x"), down, down, chunk(1, "y", true)], aJob({ state: "succeeded", exitCode: 0 }));
    let out = "";
    await followLog(b.client, "job-1", { write: (t) => (out += t), sleep: async () => undefined });
    assert.equal(out, "xy");
    assert.deepEqual(b.offsets, [0, 1, 1, 1]);
    const gone = fakeBackend([new JobCliError("JOB_NOT_FOUND", "no")], aJob());
    await assert.rejects(followLog(gone.client, "job-1", { write: () => undefined, sleep: async () => undefined }), /no/);
  });

  it("stops when its signal aborts (Ctrl-C), returning null", async () => {
    const stop = new AbortController();
    const b = fakeBackend([chunk(0, "x"), chunk(1, ""), chunk(1, "")], aJob());
    const ended = await followLog(b.client, "job-1", { write: () => stop.abort(), sleep: async () => undefined, signal: stop.signal });
    assert.equal(ended, null);
  });
});

describe("job keep-alive arguments", () => {
  it("takes exactly one of --pid, --show, --end; --hours only with --pid, default 8", () => {
    assert.deepEqual(parseKeepAlive({ pid: "4242" }), { kind: "set", request: { pid: 4242, maxHours: DEFAULT_HOLD_HOURS } });
    assert.equal(DEFAULT_HOLD_HOURS, 8);
    assert.deepEqual(parseKeepAlive({ pid: "7", hours: "1.5" }), { kind: "set", request: { pid: 7, maxHours: 1.5 } });
    assert.deepEqual(parseKeepAlive({ show: true }), { kind: "show" });
    assert.deepEqual(parseKeepAlive({ end: true }), { kind: "end" });
    const usage = (o: Parameters<typeof parseKeepAlive>[0], re: RegExp) =>
      assert.throws(() => parseKeepAlive(o), (e: unknown) => e instanceof JobCliError && e.exitCode === 2 && e.code === "INVALID_REQUEST" && re.test(e.message));
    usage({}, /exactly one/);
    usage({ pid: "1", show: true }, /exactly one/);
    usage({ show: true, end: true }, /exactly one/);
    usage({ show: true, hours: "2" }, /--hours goes with --pid/);
    for (const pid of ["0", "-3", "12a", "1.5", ""]) usage({ pid }, /--pid/);
    for (const hours of ["0", "-1", "abc", "1e3", "Infinity"]) usage({ pid: "5", hours }, /--hours/);
  });

  it("prints a next step for an expired log", () => {
    assert.match(nextStep("JOB_LOG_EXPIRED") ?? "", /job show/);
  });
});
