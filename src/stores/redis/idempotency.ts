import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import type { Clock } from "../../core/clock.js";
import { checkKeys, configError, describe, integer, string } from "../../core/options.js";
import type {
  BeginResult,
  ClaimResult,
  IdempotencyStore,
  LedgerRecord,
  LedgerState,
  ProcessLedger,
} from "../../idempotency/types.js";

type Client = Redis | Cluster;

/**
 * Lua keeps every ledger / key transition atomic. Time is Redis `TIME` unless a clock is injected
 * (ARGV "now" non-empty), so app-server skew cannot shorten or stretch a lease.
 */
const NOW = `local now = tonumber(ARGV[1])
if not now then local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end
`;

const LEDGER_CLAIM = `${NOW}
local f = redis.call('HMGET', KEYS[1], 'state', 'attempts', 'lease', 'result', 'error')
local state = f[1]
if (not state) or state == 'received' or state == 'failed' or (state == 'processing' and tonumber(f[3]) <= now) then
  local attempts = (tonumber(f[2]) or 0) + 1
  redis.call('HSET', KEYS[1], 'state', 'processing', 'attempts', attempts, 'owner', ARGV[2], 'lease', now + tonumber(ARGV[3]))
  redis.call('HDEL', KEYS[1], 'result', 'error')
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) + tonumber(ARGV[3]))
  return {1, attempts}
end
local remaining = 0
if state == 'processing' then remaining = tonumber(f[3]) - now end
return {0, state, tonumber(f[2]) or 0, f[4] or '', remaining, f[5] or ''}`;

const LEDGER_SETTLE = `
local f = redis.call('HMGET', KEYS[1], 'state', 'owner')
if f[1] ~= 'processing' or f[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], ARGV[3], ARGV[4])
redis.call('HDEL', KEYS[1], 'owner', 'lease')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

const LEDGER_EXTEND = `${NOW}
local f = redis.call('HMGET', KEYS[1], 'state', 'owner', 'lease')
if f[1] ~= 'processing' or f[2] ~= ARGV[2] or tonumber(f[3]) <= now then return 0 end
redis.call('HSET', KEYS[1], 'lease', now + tonumber(ARGV[3]))
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 and ttl < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`;

const LEDGER_RECEIVE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'received', 'attempts', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

const LEDGER_GET = `${NOW}
local f = redis.call('HMGET', KEYS[1], 'state', 'attempts', 'lease', 'result', 'error')
if not f[1] then return {} end
local remaining = 0
if f[1] == 'processing' then remaining = math.max(0, tonumber(f[3]) - now) end
return {f[1], tonumber(f[2]) or 0, f[4] or '', remaining, f[5] or ''}`;

const KEY_BEGIN = `${NOW}
local f = redis.call('HMGET', KEYS[1], 'state', 'fp', 'until', 'status', 'headers', 'body')
if (not f[1]) or tonumber(f[3]) <= now then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', 'in_flight', 'fp', ARGV[2], 'token', ARGV[3], 'until', now + tonumber(ARGV[4]))
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {'acquired'}
end
if f[1] == 'in_flight' then return {'in_flight', f[2], tostring(tonumber(f[3]) - now)} end
return {'completed', f[2], f[4], f[5], f[6]}`;

const KEY_COMPLETE = `${NOW}
local f = redis.call('HMGET', KEYS[1], 'state', 'token', 'until')
if f[1] ~= 'in_flight' or f[2] ~= ARGV[2] or tonumber(f[3]) <= now then return 0 end
redis.call('HSET', KEYS[1], 'state', 'completed', 'status', ARGV[3], 'headers', ARGV[4], 'body', ARGV[5], 'until', now + tonumber(ARGV[6]))
redis.call('HDEL', KEYS[1], 'token')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1`;

const KEY_RELEASE = `
local f = redis.call('HMGET', KEYS[1], 'state', 'token')
if f[1] == 'in_flight' and f[2] == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

async function run(
  redis: Client,
  s: Script,
  keys: string[],
  args: Array<string | number | Buffer>,
): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return redis.eval(s.source, keys.length, ...keys, ...args);
  }
}

async function runBuffer(
  redis: Client,
  s: Script,
  keys: string[],
  args: Array<string | number | Buffer>,
): Promise<unknown> {
  try {
    return await redis.callBuffer("EVALSHA", [s.sha, keys.length, ...keys, ...args]);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return redis.callBuffer("EVAL", [s.source, keys.length, ...keys, ...args]);
  }
}

function client(where: string, value: unknown): Client {
  if (value === null || typeof value !== "object" || typeof (value as Redis).evalsha !== "function") {
    throw configError(where, `"redis" must be an ioredis client, got ${describe(value)}`);
  }
  return value as Client;
}

function clockOption(where: string, value: unknown): Clock | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object" || typeof (value as Clock).now !== "function") {
    throw configError(where, `"clock" must have a now() function, got ${describe(value)}`);
  }
  return value as Clock;
}

const s = {
  claim: script(LEDGER_CLAIM),
  settle: script(LEDGER_SETTLE),
  extend: script(LEDGER_EXTEND),
  receive: script(LEDGER_RECEIVE),
  get: script(LEDGER_GET),
  begin: script(KEY_BEGIN),
  complete: script(KEY_COMPLETE),
  release: script(KEY_RELEASE),
};

export interface RedisLedgerOptions {
  /** An ioredis client or cluster. */
  redis: Client;
  /** Prefix of every key. Default: "bulwark:ledger:". */
  prefix?: string;
  /** How long an event is remembered after its last change. Default: 7 days. */
  retentionMs?: number;
  /** Time source for leases. Default: Redis `TIME` (one clock for every worker). */
  clock?: Clock;
}

/** A `processOnce` ledger on Redis: one hash per event, every transition one Lua script. */
export function redisLedger(options: RedisLedgerOptions): ProcessLedger {
  const where = "redisLedger";
  const o = checkKeys(where, options, ["redis", "prefix", "retentionMs", "clock"]);
  const redis = client(where, o.redis);
  const prefix = string(where, "prefix", o.prefix, "bulwark:ledger:");
  const retentionMs = integer(where, "retentionMs", o.retentionMs, 7 * 24 * 3_600_000, { min: 1000 });
  const clock = clockOption(where, o.clock);
  const now = () => (clock === undefined ? "" : String(Math.floor(clock.now())));

  function toRecord(
    eventId: string,
    state: string,
    attempts: number,
    result: string,
    remaining: number,
    error: string,
  ) {
    const record: LedgerRecord = {
      eventId,
      state: state as LedgerState,
      attempts: Number(attempts),
      ...(state === "done" ? { result: JSON.parse(result || "null") } : {}),
      ...(state === "processing" ? { leaseRemainingMs: Math.max(0, Number(remaining)) } : {}),
      ...(error ? { lastError: error } : {}),
    };
    return record;
  }

  return {
    kind: "redis",
    async receive(eventId) {
      await run(redis, s.receive, [prefix + eventId], [retentionMs]);
    },
    async claim(eventId, owner, leaseMs): Promise<ClaimResult> {
      const reply = (await run(
        redis,
        s.claim,
        [prefix + eventId],
        [now(), owner, leaseMs, retentionMs],
      )) as unknown[];
      if (reply[0] === 1) return { claimed: true, attempt: Number(reply[1]) };
      const [, state, attempts, result, remaining, error] = reply as [
        number,
        string,
        number,
        string,
        number,
        string,
      ];
      return { claimed: false, record: toRecord(eventId, state, attempts, result, remaining, error) };
    },
    async complete(eventId, owner, resultJson) {
      return (
        (await run(
          redis,
          s.settle,
          [prefix + eventId],
          [owner, "done", "result", resultJson, retentionMs],
        )) === 1
      );
    },
    async fail(eventId, owner, errorName) {
      return (
        (await run(
          redis,
          s.settle,
          [prefix + eventId],
          [owner, "failed", "error", errorName, retentionMs],
        )) === 1
      );
    },
    async extend(eventId, owner, leaseMs) {
      return (await run(redis, s.extend, [prefix + eventId], [now(), owner, leaseMs])) === 1;
    },
    async get(eventId) {
      const reply = (await run(redis, s.get, [prefix + eventId], [now()])) as unknown[];
      if (reply.length === 0) return undefined;
      const [state, attempts, result, remaining, error] = reply as [string, number, string, number, string];
      return toRecord(eventId, state, attempts, result, remaining, error);
    },
  };
}

export interface RedisIdempotencyStoreOptions {
  /** An ioredis client or cluster. */
  redis: Client;
  /** Prefix of every key. Default: "bulwark:idempotency:". */
  prefix?: string;
  /** Time source. Default: Redis `TIME`. */
  clock?: Clock;
}

/** An Idempotency-Key store on Redis: one hash per key (body kept as bytes), transitions in Lua. */
export function redisIdempotencyStore(options: RedisIdempotencyStoreOptions): IdempotencyStore {
  const where = "redisIdempotencyStore";
  const o = checkKeys(where, options, ["redis", "prefix", "clock"]);
  const redis = client(where, o.redis);
  const prefix = string(where, "prefix", o.prefix, "bulwark:idempotency:");
  const clock = clockOption(where, o.clock);
  const now = () => (clock === undefined ? "" : String(Math.floor(clock.now())));

  return {
    kind: "redis",
    async begin(key, fingerprint, token, lockMs): Promise<BeginResult> {
      const reply = (await runBuffer(
        redis,
        s.begin,
        [prefix + key],
        [now(), fingerprint, token, lockMs],
      )) as Buffer[];
      const state = String(reply[0]);
      if (state === "acquired") return { state: "acquired" };
      if (state === "in_flight") {
        return { state: "in_flight", fingerprint: String(reply[1]), retryAfterMs: Number(String(reply[2])) };
      }
      const headers = JSON.parse(String(reply[3])) as Array<[string, string]>;
      const body = reply[4] as Buffer;
      return {
        state: "completed",
        fingerprint: String(reply[1]),
        response: {
          status: Number(String(reply[2])),
          headers,
          body: new Uint8Array(body.buffer, body.byteOffset, body.length),
        },
      };
    },
    async complete(key, token, response, ttlMs) {
      const body = Buffer.from(response.body.buffer, response.body.byteOffset, response.body.length);
      const reply = await run(
        redis,
        s.complete,
        [prefix + key],
        [now(), token, response.status, JSON.stringify(response.headers), body, ttlMs],
      );
      return reply === 1;
    },
    async release(key, token) {
      await run(redis, s.release, [prefix + key], [token]);
    },
  };
}
