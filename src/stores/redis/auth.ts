import type { Cluster, Redis } from "ioredis";
import type { OneTimeTokenRecord, OneTimeTokenStore } from "../../auth/store.js";
import { checkKeys, configError, describe, string } from "../../core/options.js";

/**
 * One-time tokens (email verification, password reset, magic links) on Redis. A token is a hash
 * under its SHA-256 digest; consuming it is one Lua script (read, check the purpose, delete), so of
 * concurrent uses exactly one gets the record. Keys expire with the token (plus a minute), and a
 * sorted set by expiry lets `purgeExpired` clean up by the service's clock.
 *
 * Every key shares one hash tag (`{ott}`), so the scripts run on a single Cluster slot. Refresh
 * token families stay in PostgreSQL (`postgresAuthStore`): they are listed per account and must
 * survive restarts, which is the database's job.
 */

export interface RedisOneTimeTokenStoreOptions {
  /** An ioredis client or cluster. */
  redis: Redis | Cluster;
  /** Prefix of every key (default "bulwark:auth:"). */
  prefix?: string;
}

const SLACK_MS = 60_000;

const INSERT = `
local tok, acct, exp = KEYS[1], KEYS[2], KEYS[3]
redis.call('HSET', tok, 'p', ARGV[1], 'a', ARGV[2], 'ep', ARGV[3], 'd', ARGV[4], 'hd', ARGV[5], 'c', ARGV[6], 'e', ARGV[7])
redis.call('PEXPIRE', tok, ARGV[8])
redis.call('SADD', acct, ARGV[9])
if redis.call('PTTL', acct) < tonumber(ARGV[8]) then redis.call('PEXPIRE', acct, ARGV[8]) end
redis.call('ZADD', exp, ARGV[7], ARGV[9])
return 1`;

const TAKE = `
local v = redis.call('HMGET', KEYS[1], 'p', 'a', 'ep', 'd', 'hd', 'c', 'e')
if not v[1] or v[1] ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return v`;

const REVOKE = `
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local k = ARGV[2] .. m
  local p = redis.call('HGET', k, 'p')
  if not p then
    redis.call('SREM', KEYS[1], m)
  elseif ARGV[1] == '' or p == ARGV[1] then
    redis.call('DEL', k)
    redis.call('SREM', KEYS[1], m)
    redis.call('ZREM', ARGV[3], m)
    n = n + 1
  end
end
return n`;

const PURGE = `
local n = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  n = n + redis.call('DEL', ARGV[2] .. m)
  redis.call('ZREM', KEYS[1], m)
end
return n`;

type Eval = (script: string, keys: string[], args: Array<string | number>) => Promise<unknown>;

/** Creates the store. Scripts are sent with EVAL (cached by Redis; no SHA bookkeeping). */
export function redisOneTimeTokenStore(options: RedisOneTimeTokenStoreOptions): OneTimeTokenStore {
  const where = "redisOneTimeTokenStore";
  const o = checkKeys(where, options, ["redis", "prefix"]);
  const redis = o.redis as Redis | Cluster;
  if (redis === null || typeof redis !== "object" || typeof (redis as Redis).eval !== "function") {
    throw configError(where, `"redis" must be an ioredis client or cluster, got ${describe(redis)}`);
  }
  const prefix = `${string(where, "prefix", o.prefix, "bulwark:auth:")}{ott}:`;
  const tokenKey = (hash: string) => `${prefix}t:${hash}`;
  const accountKey = (account: string) => `${prefix}a:${account}`;
  const expiryKey = `${prefix}exp`;
  const run: Eval = (script, keys, args) =>
    (redis as Redis).eval(script, keys.length, ...keys, ...args) as Promise<unknown>;

  return {
    kind: "redis",

    async insert(record: OneTimeTokenRecord) {
      const ttlMs = Math.max(1, Math.ceil(record.expiresAtMs - record.createdAtMs)) + SLACK_MS;
      await run(
        INSERT,
        [tokenKey(record.tokenHash), accountKey(record.accountId), expiryKey],
        [
          record.purpose,
          record.accountId,
          record.epoch,
          record.data ?? "",
          record.data === undefined ? "0" : "1",
          record.createdAtMs,
          record.expiresAtMs,
          ttlMs,
          record.tokenHash,
        ],
      );
    },

    async take(tokenHash, purpose) {
      const reply = await run(TAKE, [tokenKey(tokenHash), expiryKey], [purpose, tokenHash]);
      if (!Array.isArray(reply)) return undefined;
      const [p, a, ep, d, hd, c, e] = reply as Array<string | null>;
      if (typeof p !== "string" || typeof a !== "string" || typeof ep !== "string") return undefined;
      const createdAtMs = Number(c);
      const expiresAtMs = Number(e);
      if (!Number.isFinite(createdAtMs) || !Number.isFinite(expiresAtMs)) {
        throw configError(where, "a stored one-time token is corrupt");
      }
      return {
        tokenHash,
        purpose: p,
        accountId: a,
        epoch: ep,
        data: hd === "1" ? (d ?? "") : undefined,
        createdAtMs,
        expiresAtMs,
      };
    },

    async revokeOneTimeTokens(accountId, purpose) {
      return Number(await run(REVOKE, [accountKey(accountId)], [purpose ?? "", `${prefix}t:`, expiryKey]));
    },

    async purgeExpired(nowMs) {
      return Number(await run(PURGE, [expiryKey], [nowMs, `${prefix}t:`]));
    },
  };
}
