/**
 * Statements per claim, counted by the store (`node --import tsx bench/statements.ts [sqlite|postgres] [N]`):
 * N warm claims at concurrency 4 through the real HTTP handler (fast path, token lookups
 * uncached as in `npm run bench`), the lifecycle loop running, until every hand-over is done;
 * then N repeat claims. Everything the server sent in each phase, divided by N.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "../backend/api/app";
import { LedgerCostService } from "../backend/cost/service";
import { silentLogger } from "../backend/log";
import { findPendingHandOvers } from "../backend/store/instances";
import { hashToken, insertToken, insertUser } from "../backend/store/users";
import { aPurpose } from "../test/support/builders";
import { makePool, settle } from "../test/support/pool";
import { createTestStore, type StoreKind } from "../test/support/stores";

async function main(): Promise<void> {
  const kind = (process.argv[2] ?? "sqlite") as StoreKind;
  const n = Number(process.argv[3] ?? 400);
  const ts = await createTestStore(kind);
  const { pool } = await makePool(ts.store, { config: { tickMs: 1000, maxInstances: n, purposes: [aPurpose({ minFree: n, max: n })] } });
  await settle(pool);
  for (let i = 0; i < n; i++) {
    await insertUser(ts.store.db, `s${i}`, false, Date.now());
    await insertToken(ts.store.db, `s${i}`, hashToken(`tok-${i}`), Date.now());
  }
  const server = createServer(createApp({ pool, costs: new LedgerCostService(pool.db, pool.config, pool.ctx.clock), log: silentLogger() }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/claims`;
  pool.start();
  await new Promise((r) => setTimeout(r, 500));
  const s = ts.store.statements!;
  const phase = async (what: string, work: () => Promise<void>) => {
    const before = { ...s };
    await work();
    const per = (k: keyof typeof s) => ((s[k] - before[k]) / n).toFixed(2);
    console.log(`${kind} ${what}: ${per("reads")} reads + ${per("writes")} writes + ${per("transactions")} transaction statements per claim`);
  };
  const claimAll = async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < n) {
          const i = next++;
          const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer tok-${i}`, "content-type": "application/json" }, body: "{}" });
          if (res.status !== 201 && res.status !== 200) throw new Error(`claim ${i}: ${res.status} ${await res.text()}`);
        }
      }),
    );
  };
  await phase("warm claims (with their ticks and hand-overs)", async () => {
    await claimAll();
    while ((await findPendingHandOvers(pool.db)).length) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
  });
  await phase("repeat claims", claimAll);
  await pool.stop();
  server.close();
  await ts.cleanup();
}

void main();
