/**
 * What an operator or an attacker can send that no route handles: requests Node's HTTP parser
 * rejects, odd values in the old protocol, and a port that is taken. Each answer has the
 * documented `{error:{code,message}}` shape; raw bytes go over a socket, as a client sends them.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { isPoolError } from "../../backend/errors";
import { silentLogger } from "../../backend/log";
import { serve, type RunningServer } from "../../backend/server";
import { aConfig, tempDir } from "../support/builders";
import { InstantProvider } from "../support/instant-provider";
import { runCli } from "../support/cli";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

const APP_KEY = "app-key-for-tests";

/** Sends raw bytes and reads until the server closes (or 10 s pass). */
function rawRequest(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer; got ${JSON.stringify(out)}`)));
    socket.on("data", (d) => (out += d.toString("utf8")));
    socket.on("end", () => resolve(out));
    socket.on("close", () => resolve(out));
    socket.on("error", (err) => (out ? resolve(out) : reject(err)));
    socket.write(bytes);
  });
}

function parse(answer: string): { status: number; headers: string; body: { error: { code: string; message: string } } } {
  const split = answer.indexOf("\r\n\r\n");
  assert.ok(split > 0, `an HTTP answer: ${JSON.stringify(answer)}`);
  const head = answer.slice(0, split);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const body = JSON.parse(answer.slice(split + 4));
  assert.equal(typeof body.error?.code, "string", answer);
  assert.ok(body.error.message.length > 10, answer);
  assert.match(head, /content-type: application\/json/i);
  return { status, headers: head, body };
}

for (const kind of STORE_KINDS) {
  describe(`requests no route handles, on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    let running: RunningServer;
    let port: number;

    before(async () => {
      ts = await createTestStore(kind);
      const config = aConfig({ dataDir: ts.dataDir, databaseUrl: kind === "postgres" ? ts.databaseUrl : null });
      running = await serve({ config, log: silentLogger(), provider: new InstantProvider(), announce: () => undefined });
      port = Number(new URL(running.url).port);
    });
    after(async () => {
      await running?.close();
      await ts?.cleanup();
    });

    const legacy = (body: string) =>
      rawRequest(port, `POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${APP_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);

    it("the old protocol refuses a command that is an object or an array with 400, not 500", async () => {
      for (const body of ['{"command":{"toString":1}}', '{"command":[{"toString":1}]}', '{"command":{}}', '{"command":["GET_STATUS"]}', '{"command":null}', '{"command":7}']) {
        const res = parse(await legacy(body));
        assert.equal(res.status, 400, body);
        assert.equal(res.body.error.code, "INVALID_REQUEST", body);
        assert.match(res.body.error.message, /"command" must be a string/);
      }
      const unknown = parse(await legacy('{"command":"LAUNCH"}'));
      assert.equal(unknown.body.error.code, "UNKNOWN_COMMAND");
    });

    it("answers oversized headers with 431 and a JSON body", async () => {
      const res = parse(await rawRequest(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`));
      assert.equal(res.status, 431);
      assert.equal(res.body.error.code, "HEADERS_TOO_LARGE");
    });

    it("answers a bad Content-Length with 400 and a JSON body", async () => {
      const res = parse(await rawRequest(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}"));
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, "INVALID_REQUEST");
      assert.match(res.body.error.message, /Content-Length/);
    });

    it("answers broken chunking with 400 and a JSON body", async () => {
      const res = parse(await rawRequest(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"));
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, "INVALID_REQUEST");
      assert.match(res.body.error.message, /chunked/);
    });

    it("answers a request line that is not HTTP with 400 and a JSON body", async () => {
      const res = parse(await rawRequest(port, "HELLO THERE\r\n\r\n"));
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, "INVALID_REQUEST");
    });

    it("keeps serving after all that", async () => {
      assert.equal((await fetch(`${running.url}/healthz`)).status, 200);
    });
  });
}

describe("a port already in use", () => {
  let taken: Server;
  let port: number;
  before(async () => {
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
    port = (taken.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => taken.close(() => r())));

  it("names PORT and HOST, and nothing is created in the data dir", async () => {
    const dataDir = tempDir("port-");
    const config = aConfig({ dataDir, port });
    await assert.rejects(serve({ config, log: silentLogger(), provider: new InstantProvider(), announce: () => undefined }), (err) => {
      assert.ok(isPoolError(err) && err.code === "INVALID_CONFIG", String(err));
      assert.match(err.message, new RegExp(`PORT: 127\\.0\\.0\\.1:${port} is already in use.*set PORT.*HOST`));
      return true;
    });
    assert.equal(existsSync(path.join(dataDir, "pool.db")), false, "the database was not touched");
  });

  it("`serve` exits 78 with that message, and so does an invalid LOG_LEVEL, without a stack trace", () => {
    const dataDir = tempDir("port-cli-");
    const env = { POOL_DATA_DIR: dataDir, POOL_LOCAL_RUNTIME: "placeholder" };
    const busy = runCli(["serve"], { ...env, PORT: String(port) });
    assert.equal(busy.status, 78, busy.stderr);
    assert.match(busy.stderr, /INVALID_CONFIG.*PORT: .*already in use/);
    assert.equal(existsSync(path.join(dataDir, "pool.db")), false);
    const verbose = runCli(["serve"], { ...env, PORT: "0", LOG_LEVEL: "verbose" });
    assert.equal(verbose.status, 78, verbose.stderr);
    assert.match(verbose.stderr, /INVALID_CONFIG.*LOG_LEVEL: must be one of/);
    assert.doesNotMatch(verbose.stderr, /\n\s+at /, "no stack trace");
  });
});
