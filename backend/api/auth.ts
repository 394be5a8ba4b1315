/**
 * Who is calling: per-user bearer tokens for /v1 (looked up by hash), and the two shared keys
 * of the old protocol (the app that requests instances, the proxy that reads and deletes).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { PoolError } from "../errors";
import { hashToken, type PoolApi, type TokenOwner } from "../pool/api";

/** Where tokens are looked up (the pool's facade). */
export type TokenDirectory = Pick<PoolApi, "userForTokenHash">;

export function bearerOrApiKey(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new PoolError("UNAUTHORIZED", "Malformed Authorization header: send \"Authorization: Bearer <token>\".");
    return m[1]!;
  }
  const key = req.headers["x-api-key"];
  if (typeof key === "string" && key.length > 0) return key;
  return null;
}

/** Compares secrets in constant time (hashing first makes the lengths equal). */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

export interface AuthedRequest extends Request {
  user?: TokenOwner;
}

/**
 * Remembers recent token lookups for a few seconds, so heartbeats (every minute from every open
 * editor) do not each cost a database read. Only valid tokens are cached. An entry lives
 * `ttlMs` from the moment its database read *started* and a hit never renews it, so a
 * revocation takes effect everywhere within `ttlMs` (5 s), however often the token is used.
 */
export class TokenCache {
  private readonly entries = new Map<string, { owner: TokenOwner; until: number }>();

  constructor(
    private readonly ttlMs = 5000,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(hash: string): TokenOwner | null {
    const e = this.entries.get(hash);
    if (!e) return null;
    if (e.until <= this.now()) {
      this.entries.delete(hash);
      return null;
    }
    return e.owner;
  }

  /** The cache's clock, to stamp a lookup before it starts (see `set`). */
  time(): number {
    return this.now();
  }

  /**
   * Remembers `owner` until `readAt + ttlMs`. Pass the time the database read started: a read
   * that began before a revocation and finished after it must not outlive the bound.
   */
  set(hash: string, owner: TokenOwner, readAt = this.now()): void {
    this.entries.delete(hash);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(hash, { owner, until: readAt + this.ttlMs });
  }
}

/** Who sent this request, by its bearer token; throws UNAUTHORIZED when nobody valid did. */
export async function authenticate(users: TokenDirectory, cache: TokenCache, req: IncomingMessage): Promise<TokenOwner> {
  const token = bearerOrApiKey(req);
  if (!token) throw new PoolError("UNAUTHORIZED", "Sign in: send \"Authorization: Bearer <token>\" (create a token with `rstudio-pool user add <userId>`).");
  let owner: TokenOwner | null = null;
  if (token.length <= 512) {
    const hash = hashToken(token);
    owner = cache.get(hash);
    if (!owner) {
      // Only a database read fills the cache: renewing on a hit would let a token that is
      // used every few seconds outlive its revocation for ever.
      const readAt = cache.time();
      owner = await users.userForTokenHash(hash);
      if (owner) cache.set(hash, owner, readAt);
    }
  }
  if (!owner) throw new PoolError("UNAUTHORIZED", "The token is not valid (unknown or revoked). Ask an admin for a new one and sign in again.");
  return owner;
}

export function requireUser(users: TokenDirectory, cache = new TokenCache()) {
  return async (req: AuthedRequest, _res: Response, next: NextFunction) => {
    req.user = await authenticate(users, cache, req);
    next();
  };
}

export function requireAdmin(req: AuthedRequest, _res: Response, next: NextFunction): void {
  if (!req.user?.isAdmin) throw new PoolError("FORBIDDEN", "This needs an admin token.");
  next();
}

export type LegacyRole = "app" | "proxy";

export function legacyRole(req: Request, keys: { appKey: string | null; proxyKey: string | null }): LegacyRole {
  if (!keys.appKey && !keys.proxyKey) {
    throw new PoolError("UNAUTHORIZED", "The command protocol is disabled: set ARENA_POOL_SERVICE_KEY and/or PROXY_KEY on the backend.");
  }
  const secret = bearerOrApiKey(req);
  if (!secret) throw new PoolError("UNAUTHORIZED", "Send the service key as \"Authorization: Bearer <key>\" or \"x-api-key\".");
  if (keys.appKey && sameSecret(secret, keys.appKey)) return "app";
  if (keys.proxyKey && sameSecret(secret, keys.proxyKey)) return "proxy";
  throw new PoolError("UNAUTHORIZED", "The service key is not valid.");
}
