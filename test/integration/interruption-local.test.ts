/**
 * A spot interruption played on the embedded default (the local provider with real placeholder
 * processes), on SQLite and PostgreSQL: a notice beside the instance, as the EC2 watcher would
 * write it, reaches the pool through the observation loop; the instance becomes interrupting,
 * its user's replacement starts at once and is theirs, the old process is stopped, and the
 * history has the warning.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { isOurProcess, LocalProvider } from "../../backend/providers/local/provider";
import { Pool } from "../../backend/pool/service";
import { getInstance } from "../../backend/store/instances";
import { listEvents } from "../../backend/store/events";
import { aConfig, aPurpose } from "../support/builders";
import { ensureBuilt, ROOT } from "../support/cli";
import { killLocalInstances } from "../support/local";
import { createTestStore, skipFor, STORE_KINDS } from "../support/stores";
import { untilWithin } from "../support/until";

const CODE_DIR = path.join(ROOT, "dist", "backend");

const until = untilWithin(30_000);

for (const kind of STORE_KINDS) {
  describe(`spot interruption on the local provider (${kind})`, { skip: skipFor(kind) }, () => {
    ensureBuilt();
    const dirs: string[] = [];
    after(() => dirs.forEach(killLocalInstances));

    it("a notice beside the instance moves its user to a replacement", async () => {
      const t = await createTestStore(kind);
      dirs.push(t.dataDir);
      const provider = new LocalProvider({ dataDir: t.dataDir, runtime: "placeholder", command: null, codeDir: CODE_DIR, cwd: ROOT });
      const pool = new Pool({ config: aConfig({ dataDir: t.dataDir, tickMs: 200, purposes: [aPurpose({ name: "rstudio" })] }), store: t.store, provider });
      await pool.prepare();
      pool.start();
      try {
        const claim = await pool.claim("alice", "rstudio");
        const old = await until("the instance to run", async () => {
          const i = await getInstance(pool.db, claim.instance.id);
          return i?.state === "running" ? i : null;
        });
        const pid = Number(old.details.pid ?? 0);
        writeFileSync(provider.noticeFile(old.id), JSON.stringify({ kind: "interruption", notice: { action: "terminate", time: new Date(Date.now() + 120_000).toISOString() }, seenAt: new Date().toISOString() }));

        const warned = await until("the warning to be applied", async () => {
          const i = await getInstance(pool.db, old.id);
          return i && i.details.replacementId ? i : null;
        });
        const replacementId = warned.details.replacementId as string;
        const replacement = await until("the replacement to run", async () => {
          const i = await getInstance(pool.db, replacementId);
          return i?.state === "running" ? i : null;
        });
        assert.equal(replacement.ownerId, "alice");
        const gone = await until("the old instance to end", async () => {
          const i = await getInstance(pool.db, old.id);
          return i?.state === "terminated" ? i : null;
        });
        assert.equal(gone.ownerId, null);
        assert.equal(gone.lastOwnerId, "alice");
        if (pid) assert.equal(isOurProcess(pid, old.id), false, "the old process was stopped");
        const kinds = (await listEvents(pool.db, { instanceId: old.id })).map((e) => e.kind);
        assert.deepEqual(kinds.filter((k) => ["interruption-warning", "released", "terminated"].includes(k)), ["interruption-warning", "released", "terminated"]);
        const again = await pool.claim("alice", "rstudio");
        assert.equal(again.instance.id, replacementId, "the user's claim finds the replacement");
      } finally {
        await pool.stop();
        await provider.close();
        await t.cleanup();
      }
    });
  });
}
