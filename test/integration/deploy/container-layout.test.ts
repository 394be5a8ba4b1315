/**
 * The backend image without Docker (no engine runs on these machines): the final stage of
 * deploy/docker/Dockerfile is read, a directory is laid out exactly as its COPY lines would lay
 * out the image (the bundle from the build stage, only the production dependencies from the deps
 * stage, the entry point from the context), and the backend is started from it with the image's
 * ENTRYPOINT, CMD, WORKDIR and ENV. It must answer its HEALTHCHECK and pass a claim (local
 * provider, placeholder runtime). The `docker build` itself is NOT tested here.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureBuilt } from "../../support/cli";
import { killLocalInstances } from "../../support/local";
import { ROOT } from "./support/workdir";

interface RuntimeStage {
  workdir: string;
  env: Record<string, string>;
  copies: Array<{ from: string | null; src: string; dest: string }>;
  entrypoint: string[];
  cmd: string[];
  user: string | null;
  healthcheck: string[] | null;
}

/** The instructions of the Dockerfile's last stage that decide what the container runs. */
function parseRuntimeStage(text: string): RuntimeStage {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const lastFrom = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).filter((i) => i >= 0).pop()!;
  const stage: RuntimeStage = { workdir: "/", env: {}, copies: [], entrypoint: [], cmd: [], user: null, healthcheck: null };
  for (const line of lines.slice(lastFrom + 1)) {
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    switch (op?.toUpperCase()) {
      case "WORKDIR":
        stage.workdir = path.posix.resolve(stage.workdir, rest!);
        break;
      case "ENV":
        for (const m of rest!.matchAll(/(\w+)=("[^"]*"|\S+)/g)) stage.env[m[1]!] = m[2]!.replace(/^"|"$/g, "");
        break;
      case "COPY": {
        const words = rest!.split(/\s+/);
        const from = words.find((w) => w.startsWith("--from="))?.slice(7) ?? null;
        const plain = words.filter((w) => !w.startsWith("--"));
        stage.copies.push({ from, src: plain[0]!, dest: plain[1]! });
        break;
      }
      case "ENTRYPOINT":
        stage.entrypoint = JSON.parse(rest!);
        break;
      case "CMD":
        stage.cmd = JSON.parse(rest!);
        break;
      case "USER":
        stage.user = rest!;
        break;
      case "HEALTHCHECK": {
        const m = /CMD\s+(\[.*\])\s*$/.exec(rest!);
        stage.healthcheck = m ? JSON.parse(m[1]!) : null;
        break;
      }
      default:
    }
  }
  return stage;
}

/** What `npm ci --omit=dev` installs: the production dependency tree of the lock file. */
function productionPackages(): string[] {
  const res = spawnSync("npm", ["ls", "--omit=dev", "--all", "--parseable"], { cwd: ROOT, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  return res.stdout
    .split("\n")
    .map((p) => path.relative(ROOT, p.trim()))
    .filter((p) => p.startsWith("node_modules/") && !p.slice("node_modules/".length).includes("node_modules/"));
}

const dockerfile = path.join(ROOT, "deploy", "docker", "Dockerfile");
const stage = parseRuntimeStage(readFileSync(dockerfile, "utf8"));
const image = mkdtempSync(path.join(os.tmpdir(), "deploy-image-"));
const inImage = (p: string) => path.join(image, path.posix.resolve(stage.workdir, p));

/** Lays out `image/` as the COPY lines would: stage paths /src/... are the repository's, built. */
function layOut(): string[] {
  const prodDeps = productionPackages();
  const done: string[] = [];
  for (const c of stage.copies) {
    const dest = inImage(c.dest);
    mkdirSync(path.dirname(dest), { recursive: true });
    const rel = c.from ? path.posix.relative("/src", c.src) : c.src;
    assert.ok(!rel.startsWith(".."), `COPY source ${c.src} outside the stage's /src`);
    if (c.from === "deps" && rel === "node_modules") {
      // Only production dependencies (hard links: fast, and nothing is written through them).
      mkdirSync(dest, { recursive: true });
      for (const p of prodDeps) {
        const target = path.join(dest, p.slice("node_modules/".length));
        mkdirSync(path.dirname(target), { recursive: true });
        const cp = spawnSync("cp", ["-al", path.join(ROOT, p), target]);
        assert.equal(cp.status, 0, String(cp.stderr));
      }
    } else {
      const cp = spawnSync("cp", ["-a", path.join(ROOT, rel), dest]);
      assert.equal(cp.status, 0, `COPY ${c.src} ${c.dest}: ${cp.stderr}`);
    }
    done.push(`${c.from ?? "context"}:${c.src} -> ${path.posix.resolve(stage.workdir, c.dest)}`);
  }
  return done;
}

let server: { child: ChildProcess; url: string; out: () => string } | null = null;
let dataDir = "";
let env: Record<string, string> = {};
const containerCmd = (args: string[]) => [...stage.entrypoint, ...args];

before(() => {
  ensureBuilt();
  layOut();
  dataDir = path.join(image, "data");
  mkdirSync(dataDir, { recursive: true });
  // The image's ENV, with its absolute paths under the laid-out root; the test's own settings.
  env = {
    PATH: process.env.PATH!,
    HOME: image,
    ...Object.fromEntries(Object.entries(stage.env).map(([k, v]) => [k, v.startsWith("/") ? path.join(image, v) : v])),
    HOST: "127.0.0.1",
    PORT: "0",
    POOL_LOCAL_RUNTIME: "placeholder",
    POOL_CONFIG_YAML: "pool: { name: image-test }\npurposes:\n  - name: rstudio\n    max: 2\n",
  };
});

after(async () => {
  if (server && server.child.exitCode === null) {
    const exited = new Promise((r) => server!.child.once("exit", r));
    server.child.kill("SIGTERM");
    await exited;
  }
  killLocalInstances(dataDir);
  rmSync(image, { recursive: true, force: true });
});

describe("the backend image's files (deploy/docker/Dockerfile, laid out without Docker)", () => {
  test("the runtime stage: non-root, the entry point runs `serve`, a health check, only production dependencies and the bundle", () => {
    assert.equal(stage.user, "node", "runs as the unprivileged node user");
    assert.deepEqual(containerCmd(stage.cmd), ["./docker-entrypoint.sh", "serve"]);
    assert.match(readFileSync(inImage("docker-entrypoint.sh"), "utf8"), /exec node (--[\w=-]+ )*dist\/backend\/cli\.js "\$@"/);
    assert.ok(stage.healthcheck, "HEALTHCHECK CMD [...]");
    assert.equal(stage.env.NODE_ENV, "production");
    assert.ok(existsSync(inImage("dist/backend/cli.js")) && existsSync(inImage("dist/backend/user-data.sh")));
    assert.ok(existsSync(inImage("node_modules/better-sqlite3")), "the native SQLite module is there");
    for (const dev of ["esbuild", "typescript", "tsx", "@vscode/vsce", "playwright-core"]) {
      assert.ok(!existsSync(inImage(`node_modules/${dev}`)), `no dev dependency ${dev}`);
    }
    assert.ok(!existsSync(inImage("backend")) && !existsSync(inImage("extension")) && !existsSync(inImage("test")), "no sources");
  });

  test("started from that directory it answers the HEALTHCHECK and passes a claim", { timeout: 120_000 }, async () => {
    const cwd = path.join(image, stage.workdir);
    const add = spawnSync(containerCmd(["user", "add", "alice"])[0]!, containerCmd(["user", "add", "alice"]).slice(1), { cwd, env, encoding: "utf8", timeout: 60_000 });
    assert.equal(add.status, 0, add.stderr);
    const token = add.stdout.trim();
    assert.match(token, /^rsp_/);

    const [cmd, ...args] = containerCmd(stage.cmd);
    const child = spawn(cmd!, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60_000);
      child.stdout!.on("data", () => {
        const line = out.split("\n").find((l) => l.includes('"event":"listening"'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line).url);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited with ${code}: ${out}`));
      });
    });
    server = { child, url, out: () => out };
    assert.doesNotMatch(out, /POOL_CONFIG_YAML/, "the YAML variable is not echoed");

    // The image's HEALTHCHECK command, run as Docker would (inside the container: its PORT).
    const [hcBin, ...hcArgs] = stage.healthcheck!;
    const hc = spawnSync(hcBin!, hcArgs, { cwd, env: { ...env, PORT: new URL(url).port }, encoding: "utf8", timeout: 30_000 });
    assert.equal(hc.status, 0, `HEALTHCHECK failed: ${hc.stderr}`);

    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const purposes = (await (await fetch(`${url}/v1/purposes`, { headers: auth })).json()) as { purposes: Array<{ name: string }> };
    assert.deepEqual(purposes.purposes.map((p) => p.name), ["rstudio"], "the purposes came from POOL_CONFIG_YAML");
    const claim = await fetch(`${url}/v1/claims`, { method: "POST", headers: auth, body: JSON.stringify({ purpose: "rstudio" }) });
    const body = (await claim.json()) as { instance: { instanceId: string; state: string } };
    assert.equal(claim.status, 201, JSON.stringify(body));
    let state = body.instance.state;
    for (let i = 0; i < 100 && state !== "running"; i++) {
      await new Promise((r) => setTimeout(r, 300));
      state = ((await (await fetch(`${url}/v1/instances/${body.instance.instanceId}`, { headers: auth })).json()) as { instance: { state: string } }).instance.state;
    }
    assert.equal(state, "running", out.slice(-3000));
    const release = await fetch(`${url}/v1/instances/${body.instance.instanceId}`, { method: "DELETE", headers: auth });
    assert.equal(release.status, 200);
  });
});
