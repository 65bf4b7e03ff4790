import type { Cluster, Redis } from "ioredis";
import type { Clock } from "../../core/clock.js";
import { BulwarkError } from "../../core/errors.js";
import { consoleLogger, type Logger } from "../../core/logger.js";
import { checkKeys, configError, integer, string } from "../../core/options.js";
import type {
  ConcurrencyStore,
  ConsumeRequest,
  LeaseDecision,
  LimitSpec,
  LimitState,
  RateLimitStore,
  StoreDecision,
} from "../../ratelimit/types.js";
import { deadline, storeUnavailable } from "../deadline.js";
import { SCRIPT, type Script, TEST_SCRIPT } from "./script.js";

export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster` client; the store never connects, quits or reconfigures it. */
  client: Redis | Cluster;
  /** Prefix of every key the store writes. Default `"bulwark:rl:"`. Must not contain `{` or `}`. */
  prefix?: string;
  /**
   * Milliseconds a call may take before it rejects with `ERR_RATELIMIT_STORE_UNAVAILABLE`.
   * Default 100: a rate limit must answer fast or step aside (see `failMode` on the limiter).
   */
  timeoutMs?: number;
  /** Where the once-only warning of `dangerouslyTestClock` goes. Default: JSON lines on stderr. */
  logger?: Logger;
  /**
   * TESTS ONLY. Takes time from this clock (sent with every call) instead of Redis `TIME`, so
   * time-dependent cases run without sleeping. Never use in production: app-server clock skew would
   * then add admissions. Default: unset (Redis `TIME`).
   */
  dangerouslyTestClock?: Clock;
}

/** A Redis-backed rate-limit and concurrency store. */
export interface RedisStore extends RateLimitStore, ConcurrencyStore {
  readonly kind: "redis";
  /** Stops the store's timer; the client stays open (it belongs to the caller). */
  close(): Promise<void>;
}

/** The two client methods the store uses (ioredis `Redis` and `Cluster` both have them). */
interface ScriptClient {
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

const WHERE = "redisStore";
const OPTION_KEYS = ["client", "prefix", "timeoutMs", "logger", "dangerouslyTestClock"] as const;
const ALGORITHM_CODE = { "fixed-window": 1, "sliding-window": 2, "token-bucket": 3, gcra: 4 } as const;
/** Most limits one check may evaluate atomically. */
export const MAX_LIMITS_PER_CHECK = 8;

/**
 * Creates a Redis store: every consume is one EVALSHA of one Lua script (loaded on first use,
 * re-sent with EVAL after a NOSCRIPT), evaluating up to 8 limits all-or-nothing at Redis time.
 * Enable `enableAutoPipelining` on the client to batch concurrent checks into fewer writes.
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  const opts = checkKeys(WHERE, options, OPTION_KEYS);
  const client = opts.client as ScriptClient | undefined;
  if (
    client === null ||
    typeof client !== "object" ||
    typeof client.evalsha !== "function" ||
    typeof client.eval !== "function"
  ) {
    throw configError(WHERE, '"client" must be an ioredis Redis or Cluster client');
  }
  const prefix = string(WHERE, "prefix", opts.prefix, "bulwark:rl:");
  if (prefix.includes("{") || prefix.includes("}")) {
    throw configError(WHERE, '"prefix" must not contain "{" or "}" (the store adds the hash tag itself)');
  }
  const timeoutMs = integer(WHERE, "timeoutMs", opts.timeoutMs, 100, { min: 1, max: 60_000 });
  const logger = (opts.logger as Logger | undefined) ?? consoleLogger;
  const testClock = opts.dangerouslyTestClock as Clock | undefined;
  if (testClock !== undefined && (testClock === null || typeof testClock.now !== "function")) {
    throw configError(WHERE, '"dangerouslyTestClock" must be a Clock');
  }
  if (testClock !== undefined) {
    logger.warn(
      { store: "redis", option: "dangerouslyTestClock" },
      "redisStore takes time from the application clock: for tests only, never in production",
    );
  }
  const script: Script = testClock === undefined ? SCRIPT : TEST_SCRIPT;
  const timer = deadline("redis", timeoutMs);

  type Arg = string | number;
  /** One EVALSHA (EVAL after a NOSCRIPT), bounded by the store timeout, parsed on arrival. */
  const run = <T>(args: Arg[], parse: (reply: unknown) => T): Promise<T> => {
    if (testClock !== undefined) args.push(testClock.now());
    return timer.run(client.evalsha(script.sha, 1, ...args), parse, (error) =>
      error instanceof Error && error.message.startsWith("NOSCRIPT")
        ? client.eval(script.source, 1, ...args)
        : undefined,
    );
  };
  /** Turns a synchronous throw (bad key or limits) into a rejection, like every other failure. */
  const attempt = <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return call();
    } catch (error) {
      return Promise.reject(error);
    }
  };

  /** `<prefix>{<key>}:` — every key of one check shares the hash tag, hence the Cluster slot. */
  const tagOf = (key: string): string => {
    if (typeof key !== "string" || key.length === 0) {
      throw new BulwarkError("ERR_RATELIMIT_INVALID_KEY", "redis store: the key must be a non-empty string");
    }
    return keyTag(prefix, key);
  };

  /**
   * The limits as the script reads them, once per limits array: their count, then per limit the
   * algorithm code, limit, windowMs and hash field "l<name>" — all strings, ready for the wire.
   */
  const specs = new WeakMap<readonly LimitSpec[], string[]>();
  const limitArgs = (limits: readonly LimitSpec[]): string[] => {
    let args = specs.get(limits);
    if (args === undefined) {
      if (!Array.isArray(limits) || limits.length === 0 || limits.length > MAX_LIMITS_PER_CHECK) {
        throw configError(WHERE, `a check takes 1 to ${MAX_LIMITS_PER_CHECK} limits`);
      }
      args = [String(limits.length)];
      for (const spec of limits as readonly LimitSpec[]) {
        const code = ALGORITHM_CODE[spec.algorithm];
        if (code === undefined) throw configError(WHERE, `unknown algorithm in limit "${spec.name}"`);
        args.push(String(code), String(spec.limit), String(spec.windowMs), `l${spec.name}`);
      }
      specs.set(limits, args);
    }
    return args;
  };
  /**
   * KEYS[1] = the key's hash; ARGV = op, a, n, 4 per limit, then b and c — left out when unused
   * (a plain check sends no reservation), except under the test clock, whose time comes last.
   */
  const rateArgs = (
    key: string,
    op: string,
    a: Arg,
    limits: readonly LimitSpec[],
    b?: Arg,
    c?: Arg,
  ): Arg[] => {
    const args: Arg[] = [hashOf(key), op, a];
    for (const v of limitArgs(limits)) args.push(v);
    if (b !== undefined || testClock !== undefined) args.push(b ?? "", c ?? "");
    return args;
  };
  const hashOf = (key: string) => `${tagOf(key)}r`;
  const leasesOf = (key: string) => `${tagOf(key)}c`;

  return {
    kind: "redis",

    consume(request: ConsumeRequest): Promise<StoreDecision> {
      return attempt(() => {
        const n = request.limits.length;
        const r = request.reservation;
        const args =
          r === undefined
            ? rateArgs(request.key, "c", request.cost, request.limits)
            : rateArgs(request.key, "c", request.cost, request.limits, r.id, r.ttlMs);
        return run(args, (reply) => decision(reply, n));
      });
    },

    refund(key, limits, amount) {
      return attempt(() => run(rateArgs(key, "f", amount, limits), expectOne));
    },

    settle(key, limits, reservationId, action) {
      const how = action === "commit" ? "c" : "r";
      return attempt(() => run(rateArgs(key, "s", reservationId, limits, how), flag));
    },

    reset(key, limits) {
      return attempt(() => run(rateArgs(key, "x", "", limits), expectOne));
    },

    block(key, durationMs) {
      return attempt(() => {
        const args: Arg[] = [hashOf(key), "b", durationMs, "0"];
        if (testClock !== undefined) args.push("", "");
        return run(args, expectOne);
      });
    },

    acquire(key, leaseId, limit, leaseMs): Promise<LeaseDecision> {
      return attempt(() => run([leasesOf(key), "a", leaseId, limit, leaseMs], lease));
    },

    release(key, leaseId) {
      return attempt(() => run([leasesOf(key), "r", leaseId], flag));
    },

    extend(key, leaseId, leaseMs) {
      return attempt(() => run([leasesOf(key), "e", leaseId, leaseMs], flag));
    },

    async close() {
      timer.close();
    },
  };
}

/**
 * `<prefix>{<key>}:`. A "}" in the key would end the hash tag early (an empty tag hashes the whole
 * name), so keys holding "}" or the escape character "%" are escaped; other keys are used as is.
 */
export function keyTag(prefix: string, key: string): string {
  const safe = key.includes("}") || key.includes("%") ? key.replace(/[%}]/g, escapeChar) : key;
  return `${prefix}{${safe}}:`;
}

function escapeChar(c: string): string {
  return c === "%" ? "%25" : "%7D";
}

function garbage(): never {
  throw storeUnavailable("redis", "unexpected reply");
}

/** A reply element that must be a finite number: an integer, or a `%.17g` string for fractions. */
function numberOf(value: unknown): number {
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
  } else if (typeof value === "string" && /^-?\d+(\.\d+)?(e[-+]?\d+)?$/.test(value)) {
    return Number(value);
  }
  return garbage();
}

function decision(reply: unknown, n: number): StoreDecision {
  if (!Array.isArray(reply) || reply.length !== 3 + 3 * n) return garbage();
  const allowed = reply[0];
  if (allowed !== 0 && allowed !== 1) return garbage();
  const nowMs = numberOf(reply[1]);
  const blocked = numberOf(reply[2]);
  const limits: LimitState[] = [];
  for (let i = 3; i < reply.length; i += 3) {
    const remaining = numberOf(reply[i]);
    const resetMs = numberOf(reply[i + 1]);
    const retryAfterMs = numberOf(reply[i + 2]);
    if (remaining < 0 || resetMs < 0 || retryAfterMs < 0) return garbage();
    limits.push({ remaining, resetMs, retryAfterMs });
  }
  return {
    allowed: allowed === 1,
    nowMs,
    blockedUntilMs: blocked > nowMs ? blocked : undefined,
    limits,
  };
}

function flag(reply: unknown): boolean {
  if (reply === 1) return true;
  if (reply === 0) return false;
  return garbage();
}

function expectOne(reply: unknown): void {
  if (reply !== 1) garbage();
}

function lease(reply: unknown): LeaseDecision {
  if (!Array.isArray(reply) || reply.length !== 3) return garbage();
  const acquired = reply[0];
  if (acquired !== 0 && acquired !== 1) return garbage();
  const held = numberOf(reply[1]);
  const retryAfterMs = numberOf(reply[2]);
  if (held < 0 || retryAfterMs < 0) return garbage();
  return { acquired: acquired === 1, held, retryAfterMs };
}
