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
import { migrationSql } from "./sql.js";

/**
 * The one method the store needs from a SQL client: `query(text, params)` resolving `{ rows }`.
 * A `pg.Pool`, a `pg.Client` and a PGlite instance all have it. `exec` (PGlite) runs the
 * multi-statement migration; without it, the migration goes through `query` (pg's simple protocol).
 */
export interface SqlClient {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  exec?(text: string): Promise<unknown>;
}

export interface PostgresStoreOptions {
  /** A `pg.Pool` (or `pg.Client`) on PostgreSQL ≥ 13, or a PGlite instance. The store never ends it. */
  pool: SqlClient;
  /** Schema holding the store's tables and functions (created by `migrate()`). Default `"bulwark"`. */
  schema?: string;
  /**
   * Milliseconds a call may take before it rejects with `ERR_RATELIMIT_STORE_UNAVAILABLE`; also the
   * statement's `lock_timeout`, so a call stuck behind a lock gives its connection back. Default 100.
   */
  timeoutMs?: number;
  /**
   * Every `sweepIntervalMs`, delete keys whose rows have all expired (in batches, SKIP LOCKED, so
   * several app servers may sweep at once). 0 disables it (call `sweep()` yourself). Default 60 000.
   */
  sweepIntervalMs?: number;
  /** Where sweep failures and the `dangerouslyTestClock` warning go. Default: JSON lines on stderr. */
  logger?: Logger;
  /**
   * TESTS ONLY. Takes time from this clock (sent with every call) instead of `clock_timestamp()`.
   * Never in production: app-server clock skew would add admissions. Default: unset.
   */
  dangerouslyTestClock?: Clock;
}

/** A PostgreSQL/PGlite-backed rate-limit and concurrency store. */
export interface PostgresStore extends RateLimitStore, ConcurrencyStore {
  readonly kind: "postgres";
  /** Creates (idempotently) the schema, tables and functions. Run once at start-up or deploy. */
  migrate(): Promise<void>;
  /** Deletes up to `batch` fully expired keys now; resolves how many were deleted. */
  sweep(batch?: number): Promise<number>;
  /** Stops the sweep timer; the pool stays open (it belongs to the caller). */
  close(): Promise<void>;
}

const WHERE = "postgresStore";
const OPTION_KEYS = [
  "pool",
  "schema",
  "timeoutMs",
  "sweepIntervalMs",
  "logger",
  "dangerouslyTestClock",
] as const;
const ALGORITHM_CODE = {
  "fixed-window": "f",
  "sliding-window": "s",
  "token-bucket": "t",
  gcra: "g",
} as const;
const MAX_LIMITS_PER_CHECK = 8;

interface LimitArrays {
  readonly algs: string[];
  readonly names: string[];
  readonly limits: number[];
  readonly windows: number[];
}

/**
 * Creates a Postgres store: every call is one statement (a PL/pgSQL function call) that locks the
 * key's row, so checks are atomic across any number of app servers; time is `clock_timestamp()`.
 * Call `migrate()` once before use.
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const opts = checkKeys(WHERE, options, OPTION_KEYS);
  const pool = opts.pool as SqlClient | undefined;
  if (pool === null || typeof pool !== "object" || typeof pool.query !== "function") {
    throw configError(WHERE, '"pool" must be a pg Pool or a PGlite instance');
  }
  const schema = string(WHERE, "schema", opts.schema, "bulwark");
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw configError(WHERE, '"schema" must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, ≤ 63)');
  }
  const timeoutMs = integer(WHERE, "timeoutMs", opts.timeoutMs, 100, { min: 1, max: 60_000 });
  const sweepIntervalMs = integer(WHERE, "sweepIntervalMs", opts.sweepIntervalMs, 60_000, { min: 0 });
  const logger = (opts.logger as Logger | undefined) ?? consoleLogger;
  const testClock = opts.dangerouslyTestClock as Clock | undefined;
  if (testClock !== undefined && (testClock === null || typeof testClock.now !== "function")) {
    throw configError(WHERE, '"dangerouslyTestClock" must be a Clock');
  }
  if (testClock !== undefined) {
    logger.warn(
      { store: "postgres", option: "dangerouslyTestClock" },
      "postgresStore takes time from the application clock: for tests only, never in production",
    );
  }

  const s = `"${schema}"`;
  /** `SELECT s.fn($1::t1, …)`, with the test-only `p_now` appended when a test clock is set. */
  const statement = (fn: string, types: readonly string[]) => {
    const all = testClock === undefined ? types : [...types, "float8"];
    return `SELECT ${s}.${fn}(${all.map((t, i) => `$${i + 1}::${t}`).join(", ")}) AS r`;
  };
  const LIMIT_TYPES = ["text", "text[]", "text[]", "float8[]", "float8[]"] as const;
  const SQL = {
    consume: statement("rl_consume", [...LIMIT_TYPES, "float8", "text", "float8", "int4"]),
    refund: statement("rl_refund", [...LIMIT_TYPES, "float8", "int4"]),
    settle: statement("rl_settle", [...LIMIT_TYPES, "text", "bool", "int4"]),
    reset: `SELECT ${s}.rl_reset($1::text, $2::text[], $3::int4) AS r`,
    block: statement("rl_block", ["text", "float8", "int4"]),
    acquire: statement("rl_acquire", ["text", "text", "int4", "float8", "int4"]),
    release: statement("rl_release", ["text", "text", "int4"]),
    extend: statement("rl_extend", ["text", "text", "float8", "int4"]),
    sweep: statement("rl_sweep", ["int4"]),
  };

  const timer = deadline("postgres", timeoutMs);
  /** One statement, bounded by the store timeout; `parse` reads the single value it returns. */
  const query = <T>(text: string, params: unknown[], parse: (value: unknown) => T): Promise<T> =>
    timer.run(pool.query(text, params), (result) => {
      const rows = (result as { rows?: unknown } | null)?.rows;
      if (!Array.isArray(rows) || rows.length !== 1) return garbage();
      return parse((rows[0] as { r?: unknown } | null)?.r);
    });
  const run = async (text: string, params: unknown[]): Promise<unknown> => {
    if (testClock !== undefined) params.push(testClock.now());
    return query(text, params, (value) => value);
  };

  const checkKey = (key: string) => {
    if (typeof key !== "string" || key.length === 0) {
      throw new BulwarkError(
        "ERR_RATELIMIT_INVALID_KEY",
        "postgres store: the key must be a non-empty string",
      );
    }
  };

  const cache = new WeakMap<readonly LimitSpec[], LimitArrays>();
  const arrays = (limits: readonly LimitSpec[]): LimitArrays => {
    let a = cache.get(limits);
    if (a === undefined) {
      if (!Array.isArray(limits) || limits.length === 0 || limits.length > MAX_LIMITS_PER_CHECK) {
        throw configError(WHERE, `a check takes 1 to ${MAX_LIMITS_PER_CHECK} limits`);
      }
      a = { algs: [], names: [], limits: [], windows: [] };
      for (const spec of limits as readonly LimitSpec[]) {
        const code = ALGORITHM_CODE[spec.algorithm];
        if (code === undefined) throw configError(WHERE, `unknown algorithm in limit "${spec.name}"`);
        a.algs.push(code);
        a.names.push(spec.name);
        a.limits.push(spec.limit);
        a.windows.push(spec.windowMs);
      }
      cache.set(limits, a);
    }
    return a;
  };
  const limitParams = (key: string, limits: readonly LimitSpec[]): unknown[] => {
    checkKey(key);
    const a = arrays(limits);
    return [key, a.algs, a.names, a.limits, a.windows];
  };

  let sweeper: ReturnType<typeof setInterval> | undefined;
  const store: PostgresStore = {
    kind: "postgres",

    async migrate() {
      const sql = migrationSql(schema);
      try {
        if (typeof pool.exec === "function") await pool.exec(sql);
        else await pool.query(sql);
      } catch (error) {
        throw new BulwarkError("ERR_STORE_UNAVAILABLE", "postgres store: migration failed", {
          status: 500,
          cause: error,
        });
      }
    },

    async consume(request: ConsumeRequest): Promise<StoreDecision> {
      const params = limitParams(request.key, request.limits);
      const reservation = request.reservation;
      params.push(
        request.cost,
        reservation === undefined ? "" : reservation.id,
        reservation === undefined ? 0 : reservation.ttlMs,
        timeoutMs,
      );
      return decision(await run(SQL.consume, params), request.limits.length);
    },

    async refund(key, limits, amount) {
      const params = limitParams(key, limits);
      params.push(amount, timeoutMs);
      if ((await run(SQL.refund, params)) !== 1) garbage();
    },

    async settle(key, limits, reservationId, action) {
      const params = limitParams(key, limits);
      params.push(reservationId, action === "release", timeoutMs);
      return flag(await run(SQL.settle, params));
    },

    async reset(key, limits) {
      checkKey(key);
      if ((await query(SQL.reset, [key, arrays(limits).names, timeoutMs], (v) => v)) !== 1) garbage();
    },

    async block(key, durationMs) {
      checkKey(key);
      if ((await run(SQL.block, [key, durationMs, timeoutMs])) !== 1) garbage();
    },

    async acquire(key, leaseId, limit, leaseMs): Promise<LeaseDecision> {
      checkKey(key);
      return lease(await run(SQL.acquire, [key, leaseId, limit, leaseMs, timeoutMs]));
    },

    async release(key, leaseId) {
      checkKey(key);
      return flag(await run(SQL.release, [key, leaseId, timeoutMs]));
    },

    async extend(key, leaseId, leaseMs) {
      checkKey(key);
      return flag(await run(SQL.extend, [key, leaseId, leaseMs, timeoutMs]));
    },

    async sweep(batch = 1_000) {
      const result = await pool.query(
        SQL.sweep,
        testClock === undefined ? [batch] : [batch, testClock.now()],
      );
      const r = (result.rows[0] as { r?: unknown } | undefined)?.r;
      return typeof r === "number" ? r : garbage();
    },

    async close() {
      if (sweeper !== undefined) clearInterval(sweeper);
      sweeper = undefined;
      timer.close();
    },
  };

  if (sweepIntervalMs > 0) {
    let warned = false;
    sweeper = setInterval(() => {
      store.sweep().catch((error: unknown) => {
        if (warned) return;
        warned = true;
        logger.warn(
          { store: "postgres", error: error instanceof Error ? error.message : String(error) },
          "postgres store sweep failed (has migrate() run?)",
        );
      });
    }, sweepIntervalMs);
    sweeper.unref?.();
  }
  return store;
}

function garbage(): never {
  throw storeUnavailable("postgres", "unexpected reply");
}

function numberArray(value: unknown, length: number): number[] {
  if (!Array.isArray(value) || value.length !== length) return garbage();
  for (const v of value) if (typeof v !== "number" || !Number.isFinite(v)) return garbage();
  return value as number[];
}

function decision(reply: unknown, n: number): StoreDecision {
  const r = numberArray(reply, 3 + 3 * n);
  const allowed = r[0];
  if (allowed !== 0 && allowed !== 1) return garbage();
  const nowMs = r[1] as number;
  const blocked = r[2] as number;
  const limits: LimitState[] = [];
  for (let i = 3; i < r.length; i += 3) {
    const remaining = r[i] as number;
    const resetMs = r[i + 1] as number;
    const retryAfterMs = r[i + 2] as number;
    if (remaining < 0 || resetMs < 0 || retryAfterMs < 0) return garbage();
    limits.push({ remaining, resetMs, retryAfterMs });
  }
  return { allowed: allowed === 1, nowMs, blockedUntilMs: blocked > nowMs ? blocked : undefined, limits };
}

function flag(reply: unknown): boolean {
  if (typeof reply !== "boolean") return garbage();
  return reply;
}

function lease(reply: unknown): LeaseDecision {
  const r = numberArray(reply, 3);
  if (r[0] !== 0 && r[0] !== 1) return garbage();
  if ((r[1] as number) < 0 || (r[2] as number) < 0) return garbage();
  return { acquired: r[0] === 1, held: r[1] as number, retryAfterMs: r[2] as number };
}
