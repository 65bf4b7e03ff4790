import { randomUUID } from "node:crypto";
import { type Clock, systemClock } from "../core/clock.js";
import { BulwarkError } from "../core/errors.js";
import { cidrMatcher } from "../core/ip.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, describe, integer, oneOf } from "../core/options.js";
import {
  ADMITTED,
  BLOCKED,
  type BoundLimits,
  type MemoryNamespace,
  memoryCoreOf,
  memoryStore,
} from "../stores/memory/store.js";
import { normalizeKey } from "./keys.js";
import { type LimitOptions, validateLimits } from "./limits.js";
import { unavailable, withTimeout } from "./timeout.js";
import type { LimitSpec, RateLimitStore, StoreDecision } from "./types.js";

/** Why a check was denied (or, with `allowed: true`, that the store failed open). */
export type RateLimitCode =
  | "ERR_RATELIMIT_EXCEEDED"
  | "ERR_RATELIMIT_BLOCKED"
  | "ERR_RATELIMIT_STORE_UNAVAILABLE"
  | "ERR_RATELIMIT_COST_EXCEEDS_LIMIT"
  | "ERR_RATELIMIT_INVALID_KEY"
  | "ERR_RATELIMIT_INVALID_COST";

/** One limit's state after a check. */
export interface LimitReport {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  /** Units still available (after this check's cost when it was admitted). */
  readonly remaining: number;
  /** Milliseconds until the limit is fully replenished (or its window resets). */
  readonly resetMs: number;
}

/** The answer to a check. Rejections are values, never exceptions. */
export interface RateLimitDecision {
  readonly allowed: boolean;
  /** Every limit of the check, in order; empty when a list, a bad argument or an outage decided. */
  readonly limits: readonly LimitReport[];
  /** 0 when allowed; otherwise ms until the same check would be admitted (0 when it never will). */
  readonly retryAfterMs: number;
  /** Set on every denial, and on an admission made because the store failed open. */
  readonly code: RateLimitCode | undefined;
  /** "allow" or "deny" when an allow or deny list decided. */
  readonly listed: "allow" | "deny" | undefined;
}

/** A hold on units that an operation which may fail has taken; settle it with commit or release. */
export interface Reservation {
  readonly id: string;
  /** Keeps the consumption. Resolves false when the reservation had expired (and was refunded). */
  commit(): Promise<boolean>;
  /** Gives the units back. Resolves false when the reservation had already expired or settled. */
  release(): Promise<boolean>;
}

export type ReserveResult =
  | (RateLimitDecision & { readonly allowed: true; readonly reservation: Reservation })
  | (RateLimitDecision & { readonly allowed: false; readonly reservation: undefined });

export interface CheckOptions<C = unknown> {
  /** Units to take from every limit (default 1); 0 evaluates without consuming. */
  cost?: number;
  /** Passed to a `limits` function (e.g. the user's tier). */
  context?: C;
  /** The client's address, for allow/deny lists by IP or CIDR. */
  ip?: string;
}

export interface ReserveOptions<C = unknown> {
  context?: C;
  ip?: string;
  /** How long the reservation waits for commit/release before it is refunded (default: the limiter's). */
  ttlMs?: number;
}

export interface ListOptions {
  /** Keys, exactly as passed to `check`. */
  keys?: readonly string[];
  /** Addresses, CIDR ranges or aliases (`loopback`, `linklocal`, `uniquelocal`), matched against `ip`. */
  ips?: readonly string[];
}

export interface RateLimitOptions<C = unknown> {
  /** Where state lives (default: a new `memoryStore()` using `clock`). */
  store?: RateLimitStore;
  /**
   * The limits every check evaluates atomically, all-or-nothing (1 to 8), or a function from the
   * check's `context` to them (per-request trust levels). A function should return the same array
   * objects for the same level: they are validated once per array.
   */
  limits: readonly LimitOptions[] | ((context: C) => readonly LimitOptions[]);
  /** When the store fails or times out: "closed" (default) denies, "open" admits and logs. */
  failMode?: "closed" | "open";
  /** Longest wait for the store before the failure mode applies (default 100 ms). */
  storeTimeoutMs?: number;
  /** Prepended to every key, to share one store between limiters (default ""). */
  prefix?: string;
  /** Clock of the default memory store and of log throttling (default system clock). */
  clock?: Clock;
  /** Where store failures are reported, once per minute at most (default: JSON lines on stderr). */
  logger?: Logger;
  /** Keys and IPs that are never limited. */
  allow?: ListOptions;
  /** Keys and IPs that are always denied (`ERR_RATELIMIT_BLOCKED`); wins over `allow`. */
  deny?: ListOptions;
  /** Default time a reservation may stay unsettled before it is refunded (default 5 minutes). */
  reservationTtlMs?: number;
}

/** Store-failure counters; they only grow. */
export interface RateLimitStats {
  /** Store calls that failed, timed out or answered garbage. */
  readonly storeFailures: number;
  /** Checks admitted because the store failed and `failMode` is "open". */
  readonly failOpenAdmissions: number;
  /** Checks denied because the store failed and `failMode` is "closed". */
  readonly failClosedDenials: number;
}

export interface RateLimiter<C = unknown> {
  /** Consumes `cost` from every limit if all admit it; never throws for a rejection. */
  check(key: string, options?: CheckOptions<C>): Promise<RateLimitDecision>;
  /**
   * Reads the state without consuming. `allowed` says whether a check of cost 1 would pass now;
   * `retryAfterMs` reflects a block only.
   */
  get(key: string, options?: { context?: C; ip?: string }): Promise<RateLimitDecision>;
  /** Forgets the key's state, block and reservations. Rejects when the store fails. */
  reset(key: string, options?: { context?: C }): Promise<void>;
  /** Denies every check of the key for `durationMs`. Rejects when the store fails. */
  block(key: string, durationMs: number): Promise<void>;
  /** Gives `amount` units back to every limit (capped at a full limit). Rejects when the store fails. */
  refund(key: string, amount: number, options?: { context?: C }): Promise<void>;
  /** Takes `amount` now, to be committed or released; unsettled, it is refunded after its ttl. */
  reserve(key: string, amount: number, options?: ReserveOptions<C>): Promise<ReserveResult>;
  /** The validated limits for a context. */
  limitsFor(context?: C): readonly LimitSpec[];
  readonly stats: RateLimitStats;
  readonly failMode: "closed" | "open";
  readonly store: RateLimitStore;
}

const NONE: readonly LimitReport[] = Object.freeze([]);

function fixed(
  allowed: boolean,
  code: RateLimitCode | undefined,
  listed?: "allow" | "deny",
): RateLimitDecision {
  return Object.freeze({ allowed, limits: NONE, retryAfterMs: 0, code, listed });
}

const INVALID_KEY = fixed(false, "ERR_RATELIMIT_INVALID_KEY");
const INVALID_COST = fixed(false, "ERR_RATELIMIT_INVALID_COST");
const COST_EXCEEDS = fixed(false, "ERR_RATELIMIT_COST_EXCEEDS_LIMIT");
const DENY_LISTED = fixed(false, "ERR_RATELIMIT_BLOCKED", "deny");
const ALLOW_LISTED = fixed(true, undefined, "allow");
const FAILED_OPEN = fixed(true, "ERR_RATELIMIT_STORE_UNAVAILABLE");
const FAILED_CLOSED: RateLimitDecision = Object.freeze({
  allowed: false,
  limits: NONE,
  retryAfterMs: 1000,
  code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
  listed: undefined,
});

/** Minimum time between two "store unavailable" log lines. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

interface Resolved {
  readonly specs: readonly LimitSpec[];
  readonly minLimit: number;
  readonly bound: BoundLimits | undefined;
}

const finiteNonNegative = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** A store answer is trusted only when every field is present and coherent. */
function isSaneDecision(d: unknown, n: number): d is StoreDecision {
  if (d === null || typeof d !== "object") return false;
  const x = d as StoreDecision;
  if (typeof x.allowed !== "boolean" || typeof x.nowMs !== "number" || !Number.isFinite(x.nowMs))
    return false;
  const blocked = x.blockedUntilMs;
  if (blocked !== undefined && (typeof blocked !== "number" || !Number.isFinite(blocked))) return false;
  if (x.allowed && blocked !== undefined) return false;
  if (!Array.isArray(x.limits) || x.limits.length !== n) return false;
  let retry = 0;
  for (const l of x.limits as unknown[]) {
    if (l === null || typeof l !== "object") return false;
    const s = l as StoreDecision["limits"][number];
    if (
      !finiteNonNegative(s.remaining) ||
      !finiteNonNegative(s.resetMs) ||
      !finiteNonNegative(s.retryAfterMs)
    )
      return false;
    retry += s.retryAfterMs;
  }
  // A denial must have a reason: a block or a limit asking to wait.
  return x.allowed || blocked !== undefined || retry > 0;
}

function compileList(where: string, value: unknown): { keys?: Set<string>; ips?: (ip: string) => boolean } {
  if (value === undefined) return {};
  const o = checkKeys(where, value, ["keys", "ips"]);
  const out: { keys?: Set<string>; ips?: (ip: string) => boolean } = {};
  if (o.keys !== undefined) {
    if (!Array.isArray(o.keys)) throw configError(where, `"keys" must be an array of strings`);
    out.keys = new Set(
      o.keys.map((k: unknown) => {
        const n = normalizeKey(k);
        if (n === undefined) throw configError(where, `"keys" must contain non-empty strings`);
        return n;
      }),
    );
  }
  if (o.ips !== undefined) {
    if (!Array.isArray(o.ips) || o.ips.some((ip) => typeof ip !== "string")) {
      throw configError(where, `"ips" must be an array of addresses or CIDR ranges`);
    }
    out.ips = cidrMatcher(o.ips as string[], where);
  }
  return out;
}

const OPTION_KEYS = [
  "store",
  "limits",
  "failMode",
  "storeTimeoutMs",
  "prefix",
  "clock",
  "logger",
  "allow",
  "deny",
  "reservationTtlMs",
] as const;

/**
 * Creates a rate limiter: several named limits checked atomically and all-or-nothing (a denied
 * check consumes nothing), amount-based costs, reservations, blocks, allow/deny lists, and a
 * defined behaviour when the store fails.
 */
export function rateLimit<C = unknown>(options: RateLimitOptions<C>): RateLimiter<C> {
  const where = "rateLimit";
  const o = checkKeys(where, options, OPTION_KEYS);
  const failMode = oneOf(where, "failMode", o.failMode, ["closed", "open"] as const, "closed");
  const storeTimeoutMs = integer(where, "storeTimeoutMs", o.storeTimeoutMs, 100, { min: 1, max: 60_000 });
  const reservationTtlMs = integer(where, "reservationTtlMs", o.reservationTtlMs, 300_000, {
    min: 1,
    max: 7 * 24 * 60 * 60 * 1000,
  });
  const prefix = o.prefix ?? "";
  if (typeof prefix !== "string" || prefix.length > 64) {
    throw configError(where, `"prefix" must be a string of at most 64 characters`);
  }
  const clock = (o.clock ?? systemClock) as Clock;
  if (clock === null || typeof clock !== "object" || typeof clock.now !== "function") {
    throw configError(where, `"clock" must be an object with a now() method`);
  }
  const logger = (o.logger ?? consoleLogger) as Logger;
  if (
    logger === null ||
    typeof logger !== "object" ||
    !["debug", "info", "warn", "error"].every((m) => typeof (logger as never)[m] === "function")
  ) {
    throw configError(where, `"logger" must have debug, info, warn and error methods`);
  }
  const store = (o.store ?? memoryStore({ clock })) as RateLimitStore;
  if (
    store === null ||
    typeof store !== "object" ||
    !["consume", "refund", "settle", "reset", "block"].every((m) => typeof (store as never)[m] === "function")
  ) {
    throw configError(where, `"store" must implement RateLimitStore, got ${describe(store)}`);
  }
  const allow = compileList(`${where}: allow`, o.allow);
  const deny = compileList(`${where}: deny`, o.deny);
  const hasLists =
    allow.keys !== undefined || allow.ips !== undefined || deny.keys !== undefined || deny.ips !== undefined;

  const core = memoryCoreOf(store);
  const ns: MemoryNamespace | undefined = core?.namespace(prefix);

  const resolveSpecs = (specs: readonly LimitSpec[]): Resolved => {
    let minLimit = Number.POSITIVE_INFINITY;
    for (const s of specs) if (s.limit < minLimit) minLimit = s.limit;
    return { specs, minLimit, bound: ns?.bind(specs) };
  };

  let staticLimits: Resolved | undefined;
  let limitsFn: ((context: C) => readonly LimitOptions[]) | undefined;
  if (typeof o.limits === "function") {
    limitsFn = o.limits as (context: C) => readonly LimitOptions[];
  } else {
    staticLimits = resolveSpecs(validateLimits(where, o.limits));
  }
  const perArray = new WeakMap<object, Resolved>();
  const resolve = (context: C | undefined): Resolved => {
    if (staticLimits !== undefined) return staticLimits;
    const list = (limitsFn as (context: C) => readonly LimitOptions[])(context as C);
    if (list !== null && typeof list === "object") {
      const hit = perArray.get(list);
      if (hit !== undefined) return hit;
    }
    const resolved = resolveSpecs(validateLimits(`${where}: limits(context)`, list));
    if (list !== null && typeof list === "object") perArray.set(list, resolved);
    return resolved;
  };

  const stats = { storeFailures: 0, failOpenAdmissions: 0, failClosedDenials: 0 };
  let lastLogMs = Number.NEGATIVE_INFINITY;
  let failuresSinceLog = 0;
  let degraded = false;

  const onFailure = (error: unknown): RateLimitDecision => {
    stats.storeFailures++;
    failuresSinceLog++;
    degraded = true;
    const now = clock.now();
    if (now - lastLogMs >= FAILURE_LOG_INTERVAL_MS) {
      lastLogMs = now;
      const cause =
        error instanceof Error ? ((error as { code?: unknown }).code ?? error.name) : typeof error;
      logger.error(
        {
          code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
          store: store.kind,
          failMode,
          failures: failuresSinceLog,
          cause,
        },
        failMode === "open"
          ? "rate-limit store unavailable; admitting requests (failMode open)"
          : "rate-limit store unavailable; denying requests (failMode closed)",
      );
      failuresSinceLog = 0;
    }
    if (failMode === "open") {
      stats.failOpenAdmissions++;
      return FAILED_OPEN;
    }
    stats.failClosedDenials++;
    return FAILED_CLOSED;
  };
  const onSuccess = (): void => {
    if (!degraded) return;
    degraded = false;
    logger.warn({ code: "ERR_RATELIMIT_STORE_UNAVAILABLE", store: store.kind }, "rate-limit store recovered");
  };

  // Scratch for the memory fast path: [remaining, resetMs, retryAfterMs, ttlMs] per limit.
  const out = new Float64Array(4 * 8);

  const fromMemory = (r: Resolved, code: number, peek: boolean): RateLimitDecision => {
    const specs = r.specs;
    const n = specs.length;
    const limits = new Array<LimitReport>(n);
    let retry = 0;
    let exhausted = false;
    for (let i = 0; i < n; i++) {
      const s = specs[i] as LimitSpec;
      const remaining = out[i * 4] as number;
      limits[i] = {
        name: s.name,
        limit: s.limit,
        windowMs: s.windowMs,
        remaining,
        resetMs: out[i * 4 + 1] as number,
      };
      const wait = out[i * 4 + 2] as number;
      if (wait > retry) retry = wait;
      if (remaining < 1) exhausted = true;
    }
    if (code === ADMITTED) {
      if (peek && exhausted)
        return { allowed: false, limits, retryAfterMs: 0, code: "ERR_RATELIMIT_EXCEEDED", listed: undefined };
      return { allowed: true, limits, retryAfterMs: 0, code: undefined, listed: undefined };
    }
    if (code === BLOCKED) {
      const ns_ = ns as MemoryNamespace;
      const wait = ns_.blockedUntilMs - ns_.nowMs;
      return {
        allowed: false,
        limits,
        retryAfterMs: Math.max(wait, retry),
        code: "ERR_RATELIMIT_BLOCKED",
        listed: undefined,
      };
    }
    return { allowed: false, limits, retryAfterMs: retry, code: "ERR_RATELIMIT_EXCEEDED", listed: undefined };
  };

  const fromStore = (r: Resolved, d: StoreDecision, peek: boolean): RateLimitDecision => {
    const specs = r.specs;
    const n = specs.length;
    const limits = new Array<LimitReport>(n);
    let retry = 0;
    let exhausted = false;
    for (let i = 0; i < n; i++) {
      const s = specs[i] as LimitSpec;
      const l = d.limits[i] as StoreDecision["limits"][number];
      limits[i] = {
        name: s.name,
        limit: s.limit,
        windowMs: s.windowMs,
        remaining: l.remaining,
        resetMs: l.resetMs,
      };
      if (l.retryAfterMs > retry) retry = l.retryAfterMs;
      if (l.remaining < 1) exhausted = true;
    }
    if (d.blockedUntilMs !== undefined) {
      const wait = d.blockedUntilMs - d.nowMs;
      return {
        allowed: false,
        limits,
        retryAfterMs: Math.max(1, wait, retry),
        code: "ERR_RATELIMIT_BLOCKED",
        listed: undefined,
      };
    }
    if (d.allowed) {
      if (peek && exhausted)
        return { allowed: false, limits, retryAfterMs: 0, code: "ERR_RATELIMIT_EXCEEDED", listed: undefined };
      return { allowed: true, limits, retryAfterMs: 0, code: undefined, listed: undefined };
    }
    return { allowed: false, limits, retryAfterMs: retry, code: "ERR_RATELIMIT_EXCEEDED", listed: undefined };
  };

  const viaStore = async (
    r: Resolved,
    key: string,
    cost: number,
    reservation: { id: string; ttlMs: number } | undefined,
  ): Promise<RateLimitDecision> => {
    let d: StoreDecision;
    try {
      d = await withTimeout(
        () =>
          store.consume(
            reservation === undefined
              ? { key: prefix + key, limits: r.specs, cost }
              : { key: prefix + key, limits: r.specs, cost, reservation },
          ),
        storeTimeoutMs,
      );
    } catch (error) {
      return onFailure(error);
    }
    if (!isSaneDecision(d, r.specs.length)) return onFailure(unavailable("store answered garbage"));
    onSuccess();
    return fromStore(r, d, cost === 0);
  };

  /** Runs a store operation other than consume; failures reject with ERR_RATELIMIT_STORE_UNAVAILABLE. */
  const admin = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      const value = await withTimeout(work, storeTimeoutMs);
      onSuccess();
      return value;
    } catch (error) {
      stats.storeFailures++;
      degraded = true;
      if (error instanceof BulwarkError && error.code === "ERR_RATELIMIT_STORE_UNAVAILABLE") throw error;
      throw unavailable("store operation failed", error);
    }
  };

  const listed = (key: string, ip: string | undefined): RateLimitDecision | undefined => {
    if (deny.keys?.has(key) || (ip !== undefined && deny.ips?.(ip))) return DENY_LISTED;
    if (allow.keys?.has(key) || (ip !== undefined && allow.ips?.(ip))) return ALLOW_LISTED;
    return undefined;
  };

  const validCost = (cost: unknown): cost is number =>
    typeof cost === "number" && Number.isSafeInteger(cost) && cost >= 0;

  /**
   * `check` up to the store: the decision when no store round trip is needed (bad arguments, lists,
   * the memory store), or the resolved limits and arguments to send to the store. Throws when a
   * `limits` function throws.
   */
  const checkNow = (
    key: string,
    options: CheckOptions<C> | undefined,
  ): RateLimitDecision | { r: Resolved; k: string; cost: number } => {
    let cost: unknown = 1;
    let context: C | undefined;
    let ip: string | undefined;
    if (options !== undefined) {
      if (options.cost !== undefined) cost = options.cost;
      context = options.context;
      ip = options.ip;
    }
    const k = normalizeKey(key);
    if (k === undefined) return INVALID_KEY;
    if (!validCost(cost)) return INVALID_COST;
    if (hasLists) {
      const l = listed(k, ip);
      if (l !== undefined) return l;
    }
    const r = staticLimits ?? resolve(context);
    if (cost > r.minLimit) return COST_EXCEEDS;
    if (ns !== undefined) return fromMemory(r, ns.consume(r.bound as BoundLimits, k, cost, out), cost === 0);
    return { r, k, cost };
  };

  const check = (key: string, options?: CheckOptions<C>): Promise<RateLimitDecision> => {
    let now: ReturnType<typeof checkNow>;
    try {
      now = checkNow(key, options);
    } catch (error) {
      return Promise.reject(error);
    }
    if ("allowed" in now) return Promise.resolve(now);
    return viaStore(now.r, now.k, now.cost, undefined);
  };

  const keyOrThrow = (key: unknown): string => {
    const k = normalizeKey(key);
    if (k === undefined) {
      throw new BulwarkError(
        "ERR_RATELIMIT_INVALID_KEY",
        `${where}: a key must be a non-empty, well-formed string`,
        {
          status: 500,
        },
      );
    }
    return k;
  };
  const amountOrThrow = (amount: unknown): number => {
    if (!validCost(amount)) {
      throw new BulwarkError("ERR_RATELIMIT_INVALID_COST", `${where}: an amount must be an integer ≥ 0`, {
        status: 500,
      });
    }
    return amount;
  };

  const settle = (r: Resolved, key: string, id: string, action: "commit" | "release"): Promise<boolean> => {
    if (ns !== undefined) return Promise.resolve(ns.settle(r.bound as BoundLimits, key, id, action));
    return admin(async () => {
      const settled = await store.settle(prefix + key, r.specs, id, action);
      if (typeof settled !== "boolean") throw unavailable("store answered garbage");
      return settled;
    });
  };

  const noopReservation = (id: string, answer: boolean): Reservation => ({
    id,
    commit: () => Promise.resolve(answer),
    release: () => Promise.resolve(answer),
  });

  const reserve = async (
    key: string,
    amount: number,
    options?: ReserveOptions<C>,
  ): Promise<ReserveResult> => {
    const k = normalizeKey(key);
    if (k === undefined) return { ...INVALID_KEY, allowed: false, reservation: undefined };
    if (!validCost(amount) || amount === 0)
      return { ...INVALID_COST, allowed: false, reservation: undefined };
    const ttlMs = options?.ttlMs ?? reservationTtlMs;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
      throw configError(`${where}: reserve`, `"ttlMs" must be an integer ≥ 1`);
    }
    const id = randomUUID();
    if (hasLists) {
      const l = listed(k, options?.ip);
      if (l === ALLOW_LISTED) return { ...l, allowed: true, reservation: noopReservation(id, true) };
      if (l !== undefined) return { ...l, allowed: false, reservation: undefined };
    }
    const r = resolve(options?.context);
    if (amount > r.minLimit) return { ...COST_EXCEEDS, allowed: false, reservation: undefined };
    const d =
      ns !== undefined
        ? fromMemory(r, ns.consume(r.bound as BoundLimits, k, amount, out, { id, ttlMs }), false)
        : await viaStore(r, k, amount, { id, ttlMs });
    if (!d.allowed) return { ...d, allowed: false, reservation: undefined };
    if (d.code === "ERR_RATELIMIT_STORE_UNAVAILABLE") {
      return { ...d, allowed: true, reservation: noopReservation(id, false) };
    }
    return {
      ...d,
      allowed: true,
      reservation: {
        id,
        commit: () => settle(r, k, id, "commit"),
        release: () => settle(r, k, id, "release"),
      },
    };
  };

  const limiter: RateLimiter<C> = {
    check,
    get: (key, options) => {
      const k = normalizeKey(key);
      if (k === undefined) return Promise.resolve(INVALID_KEY);
      if (hasLists) {
        const l = listed(k, options?.ip);
        if (l !== undefined) return Promise.resolve(l);
      }
      let r: Resolved;
      try {
        r = resolve(options?.context);
      } catch (error) {
        return Promise.reject(error);
      }
      if (ns !== undefined)
        return Promise.resolve(fromMemory(r, ns.consume(r.bound as BoundLimits, k, 0, out), true));
      return viaStore(r, k, 0, undefined);
    },
    reset: async (key, options) => {
      const k = keyOrThrow(key);
      const r = resolve(options?.context);
      if (ns !== undefined) ns.reset(r.bound as BoundLimits, k);
      else await admin(() => store.reset(prefix + k, r.specs));
    },
    block: async (key, durationMs) => {
      const k = keyOrThrow(key);
      if (!Number.isSafeInteger(durationMs) || durationMs < 1) {
        throw configError(`${where}: block`, `"durationMs" must be an integer ≥ 1`);
      }
      if (ns !== undefined) ns.block(k, durationMs);
      else await admin(() => store.block(prefix + k, durationMs));
    },
    refund: async (key, amount, options) => {
      const k = keyOrThrow(key);
      const units = amountOrThrow(amount);
      const r = resolve(options?.context);
      if (units === 0) return;
      if (ns !== undefined) ns.refund(r.bound as BoundLimits, k, units);
      else await admin(() => store.refund(prefix + k, r.specs, units));
    },
    reserve,
    limitsFor: (context) => resolve(context).specs,
    stats,
    failMode,
    store,
  };
  if (ns !== undefined) {
    SYNC_CHECKS.set(limiter as RateLimiter<unknown>, checkNow as SyncCheck<unknown>);
  }
  return limiter;
}

/**
 * `check` without the promise, for limiters on the memory store (the only store that answers without
 * I/O): the same decision, the same consumption, returned synchronously. Throws where `check` rejects.
 */
export type SyncCheck<C = unknown> = (key: string, options?: CheckOptions<C>) => RateLimitDecision;

const SYNC_CHECKS = new WeakMap<RateLimiter<unknown>, SyncCheck<unknown>>();

/** The synchronous check of a limiter made by `rateLimit` on the memory store; undefined otherwise. */
export function syncCheckOf<C>(limiter: RateLimiter<C>): SyncCheck<C> | undefined {
  return SYNC_CHECKS.get(limiter as RateLimiter<unknown>) as SyncCheck<C> | undefined;
}
