/**
 * The built-in SSM client end to end against the fake gateway + agent: real WebSockets, real
 * smux streams, real TCP to an "instance" on 127.0.0.1. HTTP goes through the tunnel while the
 * gateway drops, duplicates and reorders messages, withholds acks, pauses publication, closes
 * the socket (the tunnel resumes the session and open connections survive), ends the channel,
 * refuses the port and asks for KMS.
 */
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { after, before, test } from "node:test";
import { ExtensionError } from "../../../extension/core/errors";
import { FakeSsmGateway } from "../../support/ssm/fake-gateway";
import { BIG, get, openTunnel, sha, startInstance } from "./harness";
import { freePort } from "../../../backend/net/free-port";
import { systemClock } from "../../../extension/core/emitter";
import { NativeSsmTunnel } from "../../../extension/core/ssm/native-tunnel";
import { RecordingLog } from "../../unit/extension/fakes";

let gateway: FakeSsmGateway;
let instance: Awaited<ReturnType<typeof startInstance>>;

before(async () => {
  gateway = await FakeSsmGateway.start();
  instance = await startInstance();
});
after(async () => {
  await gateway.close();
  instance.server.close();
});

const waitUntil = async (what: string, ok: () => boolean, ms = 15_000) => {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

test("a page, a 2 MB download and an upload go through one session; the token stays out of the log", async () => {
  const rig = await openTunnel(gateway, instance.port);
  try {
    const s = gateway.sessions.get(rig.sessions[0]!)!;
    assert.equal(s.connections, 1);
    assert.equal(s.rejectedOpenings, 0);
    assert.equal(s.openings[0]!.MessageSchemaVersion, "1.0");
    const hs = s.agent.stats.handshakeResponse as { ClientVersion: string; ProcessedClientActions: Array<{ ActionType: string; ActionStatus: number }> };
    assert.deepEqual(hs.ProcessedClientActions, [{ ActionType: "SessionType", ActionStatus: 1 }]);
    assert.ok(hs.ClientVersion.split(".").map(Number)[1]! >= 1, "a client version the agent multiplexes for");

    assert.match((await get(rig.port, "/")).body.toString(), /RStudio \//);
    const big = await get(rig.port, "/big");
    assert.equal(sha(big.body), sha(BIG));
    const upload = Buffer.alloc(300_000, 0x41);
    assert.equal((await get(rig.port, "/echo", undefined, upload)).body.toString(), sha(upload));
    assert.ok(!rig.log.lines.join("\n").includes(s.token), "the session token is never logged");
  } finally {
    await rig.tunnel.dispose();
  }
});

test("eight parallel connections are eight smux streams of the same session", async () => {
  const rig = await openTunnel(gateway, instance.port);
  try {
    const s = gateway.sessions.get(rig.sessions[0]!)!;
    const before = s.agent.stats.streamsOpened;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => get(rig.port, i % 2 ? "/big" : `/page${i}`)));
    for (const [i, r] of results.entries()) {
      if (i % 2) assert.equal(sha(r.body), sha(BIG));
      else assert.match(r.body.toString(), new RegExp(`/page${i}`));
    }
    assert.equal(s.agent.stats.streamsOpened - before, 8);
    assert.equal(gateway.sessions.size >= 1 && rig.sessions.length, 1, "no second session");
    assert.equal(s.connections, 1, "one WebSocket");
  } finally {
    await rig.tunnel.dispose();
  }
});

test("dropped, duplicated and reordered messages and late acks still give every byte in order", async () => {
  const rig = await openTunnel(gateway, instance.port, { dropEvery: 17, duplicateEvery: 11, reorderEvery: 7, dropIncomingEvery: 5, withholdAcksMs: 150 });
  try {
    const big = await get(rig.port, "/big");
    assert.equal(sha(big.body), sha(BIG));
    const upload = Buffer.alloc(200_000, 0x42);
    assert.equal((await get(rig.port, "/echo", undefined, upload)).body.toString(), sha(upload));
    const stats = rig.tunnel.channel!.stats;
    assert.ok(stats.duplicates > 0, "duplicates were seen and dropped");
    assert.ok(stats.early > 0, "early messages were held back");
    assert.ok(stats.resent > 0, "the client resent what the gateway dropped");
  } finally {
    await rig.tunnel.dispose();
  }
});

test("the gateway closes the socket mid-response: the tunnel resumes and the open connection goes on", async () => {
  const rig = await openTunnel(gateway, instance.port, { closeAfterMs: 600 });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const s = gateway.sessions.get(rig.sessions[0]!)!;
    const tokenBefore = s.token;
    const first = await get(rig.port, "/slow", agent); // 1.5 s: the close lands in the middle
    assert.equal(first.body.toString().split("\n").filter(Boolean).length, 10);
    assert.equal(s.resumes, 1, "ResumeSession was called once");
    assert.equal(s.connections, 2, "a second WebSocket, with the new token");
    assert.notEqual(s.token, tokenBefore);
    assert.equal(rig.tunnel.counts.sessions, 1, "no new session");
    assert.equal(rig.tunnel.counts.resumes, 1);
    // The same keep-alive TCP connection carries the next request.
    const streams = s.agent.stats.streamsOpened;
    assert.match((await get(rig.port, "/after", agent)).body.toString(), /after/);
    assert.equal(s.agent.stats.streamsOpened, streams, "no new stream: the old connection survived");
    assert.equal(rig.tunnel.state, "up");
  } finally {
    agent.destroy();
    await rig.tunnel.dispose();
  }
});

test("pause_publication stops the client's sending until start_publication", async () => {
  const rig = await openTunnel(gateway, instance.port);
  try {
    const s = gateway.sessions.get(rig.sessions[0]!)!;
    gateway.pausePublication(s.sessionId, 1500);
    await new Promise((r) => setTimeout(r, 300));
    const upload = Buffer.alloc(50_000, 0x43);
    const t0 = Date.now();
    const echo = await get(rig.port, "/echo", undefined, upload);
    assert.equal(echo.body.toString(), sha(upload));
    assert.ok(Date.now() - t0 >= 500, "the upload waited for start_publication");
    assert.equal(s.agent.stats.dataDuringPause, 0, "nothing was sent while paused");
  } finally {
    await rig.tunnel.dispose();
  }
});

test("channel_closed ends the session; the tunnel opens a new one on the same port", async () => {
  const rig = await openTunnel(gateway, instance.port, { channelClosedAfterMs: 300 });
  try {
    await waitUntil("a second session", () => rig.tunnel.counts.sessions === 2 && rig.tunnel.state === "up");
    assert.match((await get(rig.port, "/again")).body.toString(), /again/);
    assert.ok(rig.log.lines.some((l) => l.includes("ended by the service")), "the log says the service ended it");
  } finally {
    await rig.tunnel.dispose();
  }
});

test("a refused port: the agent's ConnectToPortError closes the connection and is named", async () => {
  const closed = await freePort();
  const sessions: string[] = [];
  // A tunnel whose target port has nothing listening: RStudio never answers through it.
  await assert.rejects(openTunnel(gateway, closed, {}, sessions), (err: Error) => {
    assert.ok(err instanceof ExtensionError);
    assert.match(err.message, /refused the connection to port \d+/);
    return true;
  });
  const s = gateway.sessions.get(sessions[0]!)!;
  assert.ok(s.agent.stats.refusedStreams > 0);
});

test("KMS encryption asked for: the client refuses, naming the preference", async () => {
  const sessions: string[] = [];
  await assert.rejects(openTunnel(gateway, instance.port, { kms: true }, sessions), (err: Error) => {
    assert.ok(err instanceof ExtensionError);
    assert.equal(err.code, "SSM_KMS_REQUIRED");
    assert.match(err.message, /KMS encryption/);
    assert.match(err.message, /Session Manager preferences/);
    return true;
  });
  const s = gateway.sessions.get(sessions[0]!)!;
  await waitUntil("the handshake response", () => s.agent.stats.handshakeResponse !== null);
  const hs = s.agent.stats.handshakeResponse as { ProcessedClientActions: Array<{ ActionType: string; ActionStatus: number }> };
  assert.deepEqual(hs.ProcessedClientActions.map((a) => [a.ActionType, a.ActionStatus]), [["SessionType", 1], ["KMSEncryption", 2]]);
});

test("a wrong token is refused by the gateway and the tunnel says it could not open", async () => {
  const s = gateway.createSession({ target: "i-0123456789abcdef0", targetPort: instance.port });
  const tunnel = new NativeSsmTunnel({
    instanceId: "r-1", port: await freePort(), clock: systemClock, log: new RecordingLog(), readyTimeoutMs: 3000,
    fetchConnection: async () => { throw new Error("unused"); },
    resume: async () => { throw new ExtensionError("SSM_SESSION_NOT_FOUND", "gone"); },
    terminate: async () => undefined,
  });
  try {
    await assert.rejects(
      tunnel.start({ kind: "ssm", ...s, tokenValue: "wrong", target: "i-0123456789abcdef0", region: "eu-central-1", documentName: "AWS-StartPortForwardingSession", parameters: {}, endpoint: "" }),
      /closed the data channel before the handshake \(WebSocket 4001/,
    );
    assert.equal(gateway.sessions.get(s.sessionId)!.rejectedOpenings, 1);
  } finally {
    await tunnel.dispose();
  }
});
