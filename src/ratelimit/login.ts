import { type Clock, systemClock } from "../core/clock.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, integer, oneOf } from "../core/options.js";
import type { RespondOutcome } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import { memoryStore } from "../stores/memory/store.js";
import { type RateLimitDecision, type RateLimiter, type Reservation, rateLimit } from "./limiter.js";
import type { RateLimitStore } from "./types.js";

const MINUTE = 60_000;
/** Account+IP keys with attempts in flight remembered at once (a bound, not a limit on logins). */
const MAX_PENDING_KEYS = 10_000;

export interface LoginGuardOptions {
  /** Where failures and lockouts live (default: a new `memoryStore()`); Redis/Postgres survive restarts. */
  store?: RateLimitStore;
  /** Failures of one account from one IP within `windowMs` that lock that pair (default 5). */
  maxFailures?: number;
  /**
   * Failures of one account from any IP within `windowMs` that lock the account for everyone
   * (default 4 × maxFailures). Higher than `maxFailures` so that a stranger cannot lock a user out
   * as cheaply as they can lock themselves out.
   */
  maxFailuresPerAccount?: number;
  /** Failures from one IP across all accounts within `windowMs` that lock the IP (default 20 × maxFailures). */
  maxFailuresPerIp?: number;
  /** The sliding window failures are counted in (default 15 minutes). */
  windowMs?: number;
  /** How long a lockout lasts (default 30 minutes). */
  lockoutMs?: number;
  /**
   * Growing lockouts: each further lockout of the same key within `memoryMs` lasts `factor` times
   * the previous one, up to `maxLockoutMs`. Default off.
   */
  growth?: { factor?: number; maxLockoutMs?: number; memoryMs?: number };
  /** Normalises the account name before keying (default: NFKC, trimmed, lower-case). */
  normalizeAccount?: (account: string) => string;
  /** Prepended to every key (default "login:"). */
  prefix?: string;
  /** When the store fails: "closed" (default) reports locked, "open" allows and logs. */
  failMode?: "closed" | "open";
  /** Longest wait for the store (default 100 ms). */
  storeTimeoutMs?: number;
  /**
   * How long an attempt admitted by `check` counts against the thresholds while its outcome is
   * unknown (default 60 s). `recordFailure` / `recordSuccess` settle it sooner; an attempt never
   * settled (a crashed request) stops counting after this.
   */
  attemptTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
}

export type LoginCode = "ERR_LOGIN_LOCKED" | "ERR_RATELIMIT_STORE_UNAVAILABLE" | "ERR_RATELIMIT_INVALID_KEY";

/** The guard's answer. It depends only on counters, never on whether the account exists. */
export type LoginDecision =
  | { readonly allowed: true; readonly retryAfterMs: 0; readonly code: undefined }
  | { readonly allowed: false; readonly retryAfterMs: number; readonly code: LoginCode };

export interface LoginGuard {
  /**
   * Call before verifying the password: refuses while the account, the IP or the pair is locked,
   * and otherwise counts the attempt as a failure in flight until `recordFailure` / `recordSuccess`
   * settles it — so a burst of concurrent guesses gets at most `maxFailures` password checks, not
   * one per request (a check-then-record guard verifies every request of a burst).
   */
  check(account: string, ip: string): Promise<LoginDecision>;
  /**
   * Call after every failed attempt — for unknown accounts too, with the name as typed, so that
   * answers and timing are the same whether the account exists or not.
   */
  recordFailure(account: string, ip: string): Promise<LoginDecision>;
  /** Call after a successful login: forgets the failures of this account from this IP. */
  recordSuccess(account: string, ip: string): Promise<void>;
  /**
   * Call when an attempt admitted by `check` did not check the password after all (the hasher
   * was busy, the request failed): gives its hold back without counting a failure.
   */
  cancel(account: string, ip: string): Promise<void>;
}

const ALLOWED: LoginDecision = Object.freeze({ allowed: true, retryAfterMs: 0, code: undefined });

const defaultNormalize = (account: string): string => account.normalize("NFKC").trim().toLowerCase();

/**
 * Brute-force protection for a login form: failures are counted per account+IP, per account and
 * per IP, each with its own threshold; reaching one locks that key for `lockoutMs` (optionally
 * growing). Answers never depend on whether the account exists.
 */
export function loginGuard(options: LoginGuardOptions = {}): LoginGuard {
  const where = "loginGuard";
  const o = checkKeys(where, options, [
    "store",
    "maxFailures",
    "maxFailuresPerAccount",
    "maxFailuresPerIp",
    "windowMs",
    "lockoutMs",
    "growth",
    "normalizeAccount",
    "prefix",
    "failMode",
    "storeTimeoutMs",
    "attemptTimeoutMs",
    "clock",
    "logger",
  ]);
  const maxFailures = integer(where, "maxFailures", o.maxFailures, 5, { min: 1, max: 1_000_000 });
  const perAccount = integer(where, "maxFailuresPerAccount", o.maxFailuresPerAccount, 4 * maxFailures, {
    min: 1,
    max: 1_000_000,
  });
  const perIp = integer(where, "maxFailuresPerIp", o.maxFailuresPerIp, 20 * maxFailures, {
    min: 1,
    max: 1_000_000,
  });
  const windowMs = integer(where, "windowMs", o.windowMs, 15 * MINUTE, {
    min: 1000,
    max: 30 * 24 * 60 * MINUTE,
  });
  const lockoutMs = integer(where, "lockoutMs", o.lockoutMs, 30 * MINUTE, {
    min: 1000,
    max: 30 * 24 * 60 * MINUTE,
  });
  const attemptTimeoutMs = integer(where, "attemptTimeoutMs", o.attemptTimeoutMs, MINUTE, {
    min: 1000,
    max: 60 * MINUTE,
  });
  const failMode = oneOf(where, "failMode", o.failMode, ["closed", "open"] as const, "closed");
  const prefix = o.prefix ?? "login:";
  if (typeof prefix !== "string" || prefix.length > 48) {
    throw configError(where, `"prefix" must be a string of at most 48 characters`);
  }
  const normalize = (o.normalizeAccount ?? defaultNormalize) as (a: string) => string;
  if (typeof normalize !== "function") throw configError(where, `"normalizeAccount" must be a function`);

  let growth: { factor: number; maxLockoutMs: number; memoryMs: number } | undefined;
  if (o.growth !== undefined && o.growth !== false) {
    const g = checkKeys(`${where}: growth`, o.growth, ["factor", "maxLockoutMs", "memoryMs"]);
    const factor = g.factor ?? 2;
    if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1 || factor > 100) {
      throw configError(`${where}: growth`, `"factor" must be a number from 1 to 100`);
    }
    growth = {
      factor,
      maxLockoutMs: integer(`${where}: growth`, "maxLockoutMs", g.maxLockoutMs, 24 * 60 * MINUTE, {
        min: lockoutMs,
        max: 365 * 24 * 60 * MINUTE,
      }),
      memoryMs: integer(`${where}: growth`, "memoryMs", g.memoryMs, 24 * 60 * MINUTE, {
        min: 1000,
        max: 365 * 24 * 60 * MINUTE,
      }),
    };
  }

  const clock = (o.clock ?? systemClock) as Clock;
  const store = (o.store ?? memoryStore({ clock })) as RateLimitStore;
  const common = {
    store,
    failMode,
    clock,
    logger: (o.logger ?? consoleLogger) as Logger,
    ...(o.storeTimeoutMs === undefined ? {} : { storeTimeoutMs: o.storeTimeoutMs as number }),
  };
  const counter = (name: string, limit: number): RateLimiter =>
    rateLimit({
      ...common,
      prefix: `${prefix}${name}:`,
      limits: [{ name: "failures", algorithm: "sliding-window", limit, windowMs }],
    });
  const scopes = [
    { limiter: counter("pair", maxFailures), key: (a: string, ip: string) => `${a.length}:${a}|${ip}` },
    { limiter: counter("account", perAccount), key: (a: string) => a },
    { limiter: counter("ip", perIp), key: (_: string, ip: string) => ip },
  ];
  const lockouts =
    growth &&
    rateLimit({
      ...common,
      prefix: `${prefix}lockouts:`,
      limits: [{ name: "lockouts", algorithm: "fixed-window", limit: 1_000_000, windowMs: growth.memoryMs }],
    });

  const keys = (account: unknown, ip: unknown): string[] | undefined => {
    if (typeof account !== "string" || typeof ip !== "string" || ip.length === 0) return undefined;
    const a = `a:${normalize(account)}`;
    return scopes.map((s) => s.key(a, ip));
  };

  const fromDecisions = (decisions: RateLimitDecision[]): LoginDecision => {
    let wait = 0;
    let code: LoginCode | undefined;
    for (const d of decisions) {
      if (d.code === "ERR_RATELIMIT_STORE_UNAVAILABLE") {
        if (!d.allowed) return { allowed: false, retryAfterMs: d.retryAfterMs, code: d.code };
        continue;
      }
      if (d.code === "ERR_RATELIMIT_BLOCKED") {
        code = "ERR_LOGIN_LOCKED";
        wait = Math.max(wait, d.retryAfterMs);
      }
    }
    return code === undefined ? ALLOWED : { allowed: false, retryAfterMs: wait, code };
  };

  const lockoutFor = async (scope: number, key: string): Promise<number> => {
    if (!lockouts || !growth) return lockoutMs;
    const d = await lockouts.check(`${scope}:${key}`);
    const count = d.limits.length === 0 ? 1 : (d.limits[0]?.limit ?? 0) - (d.limits[0]?.remaining ?? 0);
    return Math.min(growth.maxLockoutMs, Math.round(lockoutMs * growth.factor ** Math.max(0, count - 1)));
  };

  /**
   * Attempts admitted by `check` and not yet settled, per account+IP key, oldest first: one
   * reservation per scope. In this process only — a request is checked and settled by the same one.
   */
  const pending = new Map<string, { readonly atMs: number; readonly holds: readonly Reservation[] }[]>();
  const takePending = (pairKey: string) => {
    const list = pending.get(pairKey);
    if (list === undefined) return undefined;
    const now = clock.now();
    let found: readonly Reservation[] | undefined;
    // Attempts older than attemptTimeoutMs have expired in the store: skip them.
    while (found === undefined && list.length > 0) {
      const first = list.shift() as { readonly atMs: number; readonly holds: readonly Reservation[] };
      if (now - first.atMs < attemptTimeoutMs) found = first.holds;
    }
    if (list.length === 0) pending.delete(pairKey);
    return found;
  };
  const addPending = (pairKey: string, holds: readonly Reservation[]) => {
    if (pending.size >= MAX_PENDING_KEYS) {
      // Attempts never settled (crashed requests) expire in the store; forget them here too.
      const now = clock.now();
      for (const [k, list] of pending) {
        if (list.every((p) => now - p.atMs >= attemptTimeoutMs)) pending.delete(k);
      }
      if (pending.size >= MAX_PENDING_KEYS) pending.delete(pending.keys().next().value as string);
    }
    const entry = { atMs: clock.now(), holds };
    const list = pending.get(pairKey);
    if (list === undefined) pending.set(pairKey, [entry]);
    else list.push(entry);
  };
  const settleAll = (holds: readonly Reservation[], action: "commit" | "release") =>
    Promise.all(holds.map((h) => h[action]())).catch(() => undefined);

  /** Locks every scope whose failures reached its threshold; answers the combined decision. */
  const lockReached = async (k: readonly string[], decisions: RateLimitDecision[]) => {
    const after = await Promise.all(
      decisions.map(async (d, i) => {
        const key = k[i] as string;
        const limiter = (scopes[i] as (typeof scopes)[number]).limiter;
        const reached =
          d.code === "ERR_RATELIMIT_EXCEEDED" ||
          (d.allowed && d.code === undefined && d.limits[0]?.remaining === 0);
        if (!reached) return d;
        // Threshold reached: lock the key and start counting afresh once the lockout ends.
        const ms = await lockoutFor(i, key);
        await limiter.reset(key);
        await limiter.block(key, ms);
        return { ...d, allowed: false, retryAfterMs: ms, code: "ERR_RATELIMIT_BLOCKED" as const };
      }),
    ).catch(() => decisions.map(() => unavailableDecision(failMode)));
    return fromDecisions(after);
  };

  const invalid: LoginDecision = Object.freeze({
    allowed: false,
    retryAfterMs: 0,
    code: "ERR_RATELIMIT_INVALID_KEY",
  });

  return {
    check: async (account, ip) => {
      const k = keys(account, ip);
      if (k === undefined) return invalid;
      // One unit of every scope's failure budget is held while the password is checked.
      const results = await Promise.all(
        scopes.map((s, i) => s.limiter.reserve(k[i] as string, 1, { ttlMs: attemptTimeoutMs })),
      );
      const holds: Reservation[] = [];
      for (const r of results) if (r.allowed) holds.push(r.reservation);
      if (holds.length === results.length) {
        addPending(k[0] as string, holds);
        return fromDecisions(results);
      }
      await settleAll(holds, "release");
      // Failures plus attempts in flight fill a budget: refused like a lockout. Within
      // attemptTimeoutMs every attempt in flight has settled (or expired), so that is the wait.
      return fromDecisions(
        results.map((r) =>
          r.code === "ERR_RATELIMIT_EXCEEDED"
            ? {
                ...r,
                code: "ERR_RATELIMIT_BLOCKED" as const,
                retryAfterMs: Math.min(Math.max(1, r.retryAfterMs), attemptTimeoutMs),
              }
            : r,
        ),
      );
    },
    recordFailure: async (account, ip) => {
      const k = keys(account, ip);
      if (k === undefined) return invalid;
      const holds = takePending(k[0] as string);
      if (holds === undefined) {
        // No attempt of this pair in flight here (no `check` first): count the failure now.
        return lockReached(k, await Promise.all(scopes.map((s, i) => s.limiter.check(k[i] as string))));
      }
      await settleAll(holds, "commit");
      return lockReached(k, await Promise.all(scopes.map((s, i) => s.limiter.get(k[i] as string))));
    },
    recordSuccess: async (account, ip) => {
      const k = keys(account, ip);
      if (k === undefined) return;
      const holds = takePending(k[0] as string);
      if (holds !== undefined) await settleAll(holds, "release");
      await scopes[0]?.limiter.reset(k[0] as string);
    },
    cancel: async (account, ip) => {
      const k = keys(account, ip);
      if (k === undefined) return;
      const holds = takePending(k[0] as string);
      if (holds !== undefined) await settleAll(holds, "release");
    },
  };
}

function unavailableDecision(failMode: "closed" | "open"): RateLimitDecision {
  return {
    allowed: failMode === "open",
    limits: [],
    retryAfterMs: failMode === "open" ? 0 : 1000,
    code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
    listed: undefined,
  };
}

/**
 * The HTTP answer for a refused login: 429 `ERR_LOGIN_LOCKED` with `Retry-After`, or 503 when the
 * store is unavailable. The same body for every account, existing or not.
 */
export function loginLockedResponse(decision: LoginDecision & { allowed: false }): RespondOutcome {
  const seconds = String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
  if (decision.code === "ERR_RATELIMIT_STORE_UNAVAILABLE") {
    return problem(503, decision.code, "Service Unavailable", [["retry-after", seconds]]);
  }
  if (decision.code === "ERR_RATELIMIT_INVALID_KEY") {
    return problem(500, decision.code, "Internal Server Error");
  }
  return problem(429, "ERR_LOGIN_LOCKED", "Too Many Failed Logins", [["retry-after", seconds]]);
}
