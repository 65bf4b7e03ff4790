/**
 * Rate-limit data types and the store interface. A store evaluates every limit of one check
 * atomically and all-or-nothing, with time taken from the store's own clock where it has one
 * (Redis `TIME`, Postgres `clock_timestamp()`), so app-server clock skew cannot add admissions.
 *
 * The arithmetic each store must implement is `algorithms.ts`: the memory store runs it directly,
 * the Redis store ports it to Lua and the Postgres store to SQL, and one contract suite checks that
 * they all answer the same.
 */

export type Algorithm = "fixed-window" | "sliding-window" | "token-bucket" | "gcra";

/** One resolved limit. `limit` units per `windowMs`; see algorithms.ts for each algorithm's meaning. */
export interface LimitSpec {
  readonly name: string;
  readonly algorithm: Algorithm;
  readonly limit: number;
  readonly windowMs: number;
}

/** The state of one limit for one key after an evaluation. */
export interface LimitState {
  /** Units still available now (after this check's cost when it was admitted). Never negative. */
  readonly remaining: number;
  /** Milliseconds until this limit is fully replenished (or its window resets). */
  readonly resetMs: number;
  /** 0 when this limit admits the check's cost now; otherwise ms until it would. */
  readonly retryAfterMs: number;
}

/** A store's answer to one check. `limits` is in the order of the request's limits. */
export interface StoreDecision {
  readonly allowed: boolean;
  /** The store's clock at evaluation, ms since the epoch. */
  readonly nowMs: number;
  /** When the key is blocked (by `block`), the store time at which the block ends. */
  readonly blockedUntilMs: number | undefined;
  readonly limits: readonly LimitState[];
}

export interface ConsumeRequest {
  /** The key, already normalised by the limiter (≤ 256 bytes, hashed otherwise). */
  readonly key: string;
  readonly limits: readonly LimitSpec[];
  /** Units to take from every limit; 0 evaluates without consuming (peek). */
  readonly cost: number;
  /**
   * When set and the check is admitted, the cost is also recorded as a reservation with this id
   * that must be settled (commit / release) within `ttlMs`; an unsettled reservation is refunded
   * automatically by the first operation on the key after it expires.
   */
  readonly reservation?: { readonly id: string; readonly ttlMs: number };
}

/**
 * Storage behind `rateLimit`. Implementations: memory (default), Redis, Postgres/PGlite.
 * Every method is atomic for its key. Implementations reject with `ERR_RATELIMIT_STORE_UNAVAILABLE`
 * (or any error, which the limiter maps to it) when they cannot answer; they never admit on garbage.
 */
export interface RateLimitStore {
  /** Short name for logs and metrics: "memory", "redis", "postgres". */
  readonly kind: string;
  /**
   * Atomically: refunds expired reservations of the key, then evaluates every limit at the store's
   * time. If the key is not blocked and every limit admits `cost`, consumes `cost` from all of them
   * (and records the reservation, if any); otherwise changes nothing.
   */
  consume(request: ConsumeRequest): Promise<StoreDecision>;
  /** Gives `amount` units back to every limit (never above a limit's capacity). */
  refund(key: string, limits: readonly LimitSpec[], amount: number): Promise<void>;
  /**
   * Settles a reservation: "commit" keeps the consumption, "release" refunds it.
   * Resolves false when the reservation is unknown (already settled or expired and refunded).
   */
  settle(
    key: string,
    limits: readonly LimitSpec[],
    reservationId: string,
    action: "commit" | "release",
  ): Promise<boolean>;
  /** Forgets every limit's state, the block and the reservations of the key. */
  reset(key: string, limits: readonly LimitSpec[]): Promise<void>;
  /** Blocks the key for `durationMs` of store time; checks are denied until then. */
  block(key: string, durationMs: number): Promise<void>;
  /** Releases resources (timers, scripts); the store is unusable afterwards. */
  close?(): Promise<void>;
}

/** Result of a concurrency-lease acquisition. */
export interface LeaseDecision {
  readonly acquired: boolean;
  /** Leases held for the key after this call (including this one when acquired). */
  readonly held: number;
  /** When not acquired: ms until the earliest held lease expires. */
  readonly retryAfterMs: number;
}

/**
 * Storage behind `concurrencyLimit`: at most `limit` unexpired leases per key. A lease that is not
 * released expires after `leaseMs` of store time, so a crashed holder loses its slot.
 */
export interface ConcurrencyStore {
  readonly kind: string;
  acquire(key: string, leaseId: string, limit: number, leaseMs: number): Promise<LeaseDecision>;
  /** Resolves false when the lease was unknown or had expired. */
  release(key: string, leaseId: string): Promise<boolean>;
  /** Extends a held lease to `leaseMs` from now; false when it had expired. */
  extend(key: string, leaseId: string, leaseMs: number): Promise<boolean>;
}
