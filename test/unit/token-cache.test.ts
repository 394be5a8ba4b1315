import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TokenCache } from "../../backend/api/auth";

describe("token cache", () => {
  it("remembers a valid token for its TTL only, and stays bounded", () => {
    let now = 1000;
    const cache = new TokenCache(5000, 2, () => now);
    cache.set("h1", { userId: "a", isAdmin: false });
    assert.deepEqual(cache.get("h1"), { userId: "a", isAdmin: false });
    now += 5001;
    assert.equal(cache.get("h1"), null, "expired: the next request asks the database, so a revocation takes effect");
    cache.set("h1", { userId: "a", isAdmin: false });
    cache.set("h2", { userId: "b", isAdmin: false });
    cache.set("h3", { userId: "c", isAdmin: false });
    assert.equal(cache.get("h1"), null, "the oldest entry made room");
    assert.equal(cache.get("h3")?.userId, "c");
  });
});
