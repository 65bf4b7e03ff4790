import type { HeaderList } from "../core/outcome.js";

// ── processOnce ledger ──────────────────────────────────────────────────────────────────────────

/** Life of an event in the ledger: received → processing → done | failed (failed is retried). */
export type LedgerState = "received" | "processing" | "done" | "failed";

/** What a ledger knows about one event. */
export interface LedgerRecord {
  readonly eventId: string;
  readonly state: LedgerState;
  /** How many times processing was started. */
  readonly attempts: number;
  /** The handler's stored result (JSON), when `state` is "done". */
  readonly result?: unknown;
  /** While "processing": ms of lease left (0 when it has expired). */
  readonly leaseRemainingMs?: number;
  /** The error name or code of the last failed attempt (never its message). */
  readonly lastError?: string;
}

export type ClaimResult =
  | { readonly claimed: true; readonly attempt: number }
  | { readonly claimed: false; readonly record: LedgerRecord };

/**
 * Storage behind `processOnce`. Every method is atomic per event id. `owner` is a random token of
 * one processing attempt; only the current owner can complete, fail or extend. Implementations:
 * `memoryLedger` (bulwark/memory), `redisLedger` (bulwark/redis), `postgresLedger` (bulwark/postgres,
 * PostgreSQL or PGlite).
 */
export interface ProcessLedger {
  readonly kind: string;
  /** Records the event as "received" when the ledger does not know it yet; never changes a known event. */
  receive(eventId: string): Promise<void>;
  /**
   * Takes the event for processing when it is unknown, received, failed, or processing with an
   * expired lease: state becomes "processing", attempts + 1, lease = now + leaseMs. Otherwise
   * returns the current record (done → its result; processing → lease remaining).
   */
  claim(eventId: string, owner: string, leaseMs: number): Promise<ClaimResult>;
  /** Marks done with `resultJson` when `owner` still holds the lease; false otherwise. */
  complete(eventId: string, owner: string, resultJson: string): Promise<boolean>;
  /** Marks failed (retryable) when `owner` still holds the lease; false otherwise. */
  fail(eventId: string, owner: string, errorName: string): Promise<boolean>;
  /** Extends the lease to now + leaseMs when `owner` still holds it; false otherwise. */
  extend(eventId: string, owner: string, leaseMs: number): Promise<boolean>;
  /** The current record, if any. */
  get(eventId: string): Promise<LedgerRecord | undefined>;
}

// ── Idempotency-Key store ───────────────────────────────────────────────────────────────────────

/** A response kept for replay. `set-cookie` is never stored. */
export interface StoredResponse {
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: Uint8Array;
}

export type BeginResult =
  | { readonly state: "acquired" }
  | { readonly state: "in_flight"; readonly fingerprint: string; readonly retryAfterMs: number }
  | { readonly state: "completed"; readonly fingerprint: string; readonly response: StoredResponse };

/**
 * Storage behind the `idempotency` guard. Every method is atomic per key. Keys arrive already
 * scoped and hashed (64 hex characters). Implementations: `memoryIdempotencyStore`,
 * `redisIdempotencyStore`, `postgresIdempotencyStore`.
 */
export interface IdempotencyStore {
  readonly kind: string;
  /**
   * When no live record exists for `key` (none, or an in-flight one whose lock expired), creates an
   * in-flight record owned by `token` for `lockMs` and resolves "acquired". Otherwise resolves the
   * existing record's state and fingerprint (and the response when completed).
   */
  begin(key: string, fingerprint: string, token: string, lockMs: number): Promise<BeginResult>;
  /** Stores the response for `ttlMs` when `token` still owns the in-flight record; false otherwise. */
  complete(key: string, token: string, response: StoredResponse, ttlMs: number): Promise<boolean>;
  /** Drops the in-flight record when `token` owns it, so the client can retry. */
  release(key: string, token: string): Promise<void>;
}
