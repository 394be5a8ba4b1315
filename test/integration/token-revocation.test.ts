import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { after, before, describe, it } from "node:test";
import { authenticate, TokenCache } from "../../backend/api/auth";
import { isPoolError } from "../../backend/errors";
import { hashToken, insertToken, insertUser, newToken, revokeUser, userForTokenHash } from "../../backend/store/users";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../support/stores";

const TTL_MS = 5000;

for (const kind of STORE_KINDS) {
  describe(`token revocation on ${kind}`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    before(async () => {
      ts = await createTestStore(kind);
    });
    after(async () => {
      await ts?.cleanup();
    });

    it(`takes effect within ${TTL_MS} ms even when the token is used every second`, async () => {
      let now = 1_000_000;
      const cache = new TokenCache(TTL_MS, 100, () => now);
      await insertUser(ts.store.db, "carol", false, now);
      const token = newToken();
      await insertToken(ts.store.db, "carol", hashToken(token), now);
      const req = { headers: { authorization: `Bearer ${token}` } } as IncomingMessage;
      const accepted = async () => {
        try {
          await authenticate({ userForTokenHash: (h) => userForTokenHash(ts.store.db, h) }, cache, req);
          return true;
        } catch (err) {
          assert.ok(isPoolError(err) && err.code === "UNAUTHORIZED", String(err));
          return false;
        }
      };

      for (let i = 0; i < 3; i++, now += 1000) assert.equal(await accepted(), true);
      const revokedAt = now;
      await revokeUser(ts.store.db, "carol", revokedAt);
      let lastAccepted = -1;
      // Before the fix every hit renewed the entry, so this loop never saw a refusal.
      for (; now <= revokedAt + 3 * TTL_MS; now += 1000) {
        if (await accepted()) lastAccepted = now;
      }
      assert.ok(lastAccepted < revokedAt + TTL_MS, `accepted ${lastAccepted - revokedAt} ms after the revocation`);
      assert.equal(await accepted(), false);
    });
  });
}
