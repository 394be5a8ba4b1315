/**
 * The local provider's hand-over rewrites its state file in place (one write of at most a page,
 * see state-files.ts). SIGKILL the real backend right after warm claims, and what is on disk must still
 * agree with the database: every state file whole, and no row recorded as handed over whose
 * file does not name its owner. After a restart every hand-over completes. Linux only (/proc).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { openStore } from "../../backend/store/db";
import { migrateToLatest } from "../../backend/store/migrate";
import { hashToken, insertToken, insertUser, newToken } from "../../backend/store/users";
import { tempDir } from "../support/builders";
import { startServe, type ServeHandle } from "../support/cli";
import { killLocalInstances } from "../support/local";
import { untilWithin } from "../support/until";

const until = untilWithin(60_000);

describe("hand-overs survive a SIGKILL right after the claims", { skip: process.platform === "linux" ? false : "needs /proc (Linux)" }, () => {
  const dataDir = tempDir("hand-over-crash-");
  let serve: ServeHandle | null = null;
  after(async () => {
    if (serve && serve.child.exitCode === null) serve.child.kill("SIGKILL");
    killLocalInstances(dataDir);
  });

  it("keeps every state file whole and never ahead of the database's record, and completes the hand-overs after a restart", { timeout: 180_000 }, async () => {
    const USERS = 4;
    const configFile = path.join(dataDir, "pool.yaml");
    writeFileSync(configFile, `pool: { name: hand-over-crash, maxInstances: ${USERS * 2} }\npurposes:\n  - name: rstudio\n    minFree: ${USERS}\n    max: ${USERS * 2}\n    idleTimeoutSeconds: 3600\n`);
    const store = openStore({ databaseUrl: null, dataDir });
    await migrateToLatest(store);
    const tokens: string[] = [];
    for (let i = 0; i < USERS; i++) {
      await insertUser(store.db, `u${i}`, false, Date.now());
      const t = newToken();
      await insertToken(store.db, `u${i}`, hashToken(t), Date.now());
      tokens.push(t);
    }
    const env = { POOL_DATA_DIR: dataDir, POOL_CONFIG: configFile, POOL_LOCAL_RUNTIME: "placeholder", POOL_TICK_MS: "200", LOG_LEVEL: "info" };
    const freeRunning = async () =>
      Number((await store.db.selectFrom("instances").select((eb) => eb.fn.countAll<number>().as("n")).where("state", "=", "running").where("owner_id", "is", null).executeTakeFirstOrThrow()).n);

    serve = await startServe(env);
    await until("the warm spares", async () => (await freeRunning()) >= USERS);
    // The claims, then the kill as soon as the last answer is in: the hand-overs are mid-flight.
    const claimed = await Promise.all(
      tokens.map(async (t) => {
        const res = await fetch(`${serve!.url}/v1/claims`, { method: "POST", headers: { authorization: `Bearer ${t}`, "content-type": "application/json" }, body: "{}" });
        assert.equal(res.status, 201);
        return ((await res.json()) as { instance: { instanceId: string } }).instance.instanceId;
      }),
    );
    serve.child.kill("SIGKILL");
    await new Promise((r) => serve!.child.once("exit", r));

    const dir = path.join(dataDir, "local-instances");
    const files = () => readdirSync(dir).filter((f) => f.endsWith(".json"));
    const stateOf = (id: string) => JSON.parse(readFileSync(path.join(dir, `${id}.json`), "utf8")) as { ownerId: string | null };
    for (const f of files()) JSON.parse(readFileSync(path.join(dir, f), "utf8")); // whole, never half-written
    const rows = await store.db.selectFrom("instances").select(["id", "owner_id", "handed_over_to"]).where("id", "in", claimed).execute();
    for (const r of rows) {
      if (r.handed_over_to === r.owner_id) assert.equal(stateOf(r.id).ownerId, r.owner_id, `${r.id}: recorded as handed over, so its file names the owner`);
    }

    serve = await startServe(env);
    await until("every hand-over", async () => {
      const pending = await store.db.selectFrom("instances").select("id").where("id", "in", claimed).where((eb) => eb.or([eb("handed_over_to", "is", null), eb("handed_over_to", "!=", eb.ref("owner_id"))])).execute();
      return pending.length === 0;
    });
    for (const r of await store.db.selectFrom("instances").select(["id", "owner_id"]).where("id", "in", claimed).execute()) {
      assert.equal(stateOf(r.id).ownerId, r.owner_id, `${r.id}: handed over after the restart`);
    }
    await serve.stop();
    await store.close();
  });
});
