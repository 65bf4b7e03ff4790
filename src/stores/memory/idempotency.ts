import { type Clock, systemClock } from "../../core/clock.js";
import { checkKeys, integer } from "../../core/options.js";
import type {
  BeginResult,
  ClaimResult,
  IdempotencyStore,
  LedgerRecord,
  LedgerState,
  ProcessLedger,
  StoredResponse,
} from "../../idempotency/types.js";

export interface MemoryLedgerOptions {
  /** Time source for leases. Default: the system clock. */
  clock?: Clock;
  /** How long a done or failed event is remembered after its last change. Default: 7 days. */
  retentionMs?: number;
}

interface LedgerEntry {
  state: LedgerState;
  attempts: number;
  owner: string | undefined;
  leaseUntil: number;
  resultJson: string | undefined;
  lastError: string | undefined;
  touchedAt: number;
}

/**
 * An in-process `processOnce` ledger; exactly-once holds within one process only. Results are kept
 * as JSON text, so they round-trip exactly as through Redis or Postgres.
 */
export function memoryLedger(options: MemoryLedgerOptions = {}): ProcessLedger {
  const o = checkKeys("memoryLedger", options, ["clock", "retentionMs"]);
  const clock = (o.clock as Clock | undefined) ?? systemClock;
  const retentionMs = integer("memoryLedger", "retentionMs", o.retentionMs, 7 * 24 * 3_600_000, { min: 1 });
  const entries = new Map<string, LedgerEntry>();

  function sweep(now: number): void {
    let budget = 16;
    for (const [id, e] of entries) {
      if (budget-- === 0 || e.touchedAt + retentionMs > now) break;
      if (e.state !== "processing") entries.delete(id);
    }
  }

  function touch(id: string, e: LedgerEntry, now: number): void {
    e.touchedAt = now;
    entries.delete(id);
    entries.set(id, e);
  }

  function record(id: string, e: LedgerEntry, now: number): LedgerRecord {
    return {
      eventId: id,
      state: e.state,
      attempts: e.attempts,
      ...(e.state === "done" ? { result: JSON.parse(e.resultJson ?? "null") } : {}),
      ...(e.state === "processing" ? { leaseRemainingMs: Math.max(0, e.leaseUntil - now) } : {}),
      ...(e.lastError !== undefined ? { lastError: e.lastError } : {}),
    };
  }

  function owned(id: string, owner: string): LedgerEntry | undefined {
    const e = entries.get(id);
    return e !== undefined && e.state === "processing" && e.owner === owner ? e : undefined;
  }

  return {
    kind: "memory",
    async receive(id) {
      const now = clock.now();
      sweep(now);
      if (!entries.has(id)) {
        entries.set(id, {
          state: "received",
          attempts: 0,
          owner: undefined,
          leaseUntil: 0,
          resultJson: undefined,
          lastError: undefined,
          touchedAt: now,
        });
      }
    },
    async claim(id, owner, leaseMs): Promise<ClaimResult> {
      const now = clock.now();
      sweep(now);
      const e = entries.get(id);
      const free =
        e === undefined ||
        e.state === "received" ||
        e.state === "failed" ||
        (e.state === "processing" && e.leaseUntil <= now);
      if (!free) return { claimed: false, record: record(id, e, now) };
      const next: LedgerEntry = {
        state: "processing",
        attempts: (e?.attempts ?? 0) + 1,
        owner,
        leaseUntil: now + leaseMs,
        resultJson: undefined,
        lastError: undefined,
        touchedAt: now,
      };
      touch(id, next, now);
      return { claimed: true, attempt: next.attempts };
    },
    async complete(id, owner, resultJson) {
      const e = owned(id, owner);
      if (e === undefined) return false;
      e.state = "done";
      e.owner = undefined;
      e.resultJson = resultJson;
      touch(id, e, clock.now());
      return true;
    },
    async fail(id, owner, errorName) {
      const e = owned(id, owner);
      if (e === undefined) return false;
      e.state = "failed";
      e.owner = undefined;
      e.lastError = errorName;
      touch(id, e, clock.now());
      return true;
    },
    async extend(id, owner, leaseMs) {
      const e = owned(id, owner);
      const now = clock.now();
      if (e === undefined || e.leaseUntil <= now) return false;
      e.leaseUntil = now + leaseMs;
      return true;
    },
    async get(id) {
      const e = entries.get(id);
      return e === undefined ? undefined : record(id, e, clock.now());
    },
  };
}

export interface MemoryIdempotencyStoreOptions {
  /** Time source. Default: the system clock. */
  clock?: Clock;
  /** Most keys kept; past it the least recently written is dropped. Default: 10 000. */
  maxEntries?: number;
}

interface KeyEntry {
  fingerprint: string;
  token: string | undefined;
  expiresAt: number;
  response: StoredResponse | undefined;
}

/** An in-process Idempotency-Key store; protection holds within one process only. */
export function memoryIdempotencyStore(options: MemoryIdempotencyStoreOptions = {}): IdempotencyStore {
  const o = checkKeys("memoryIdempotencyStore", options, ["clock", "maxEntries"]);
  const clock = (o.clock as Clock | undefined) ?? systemClock;
  const maxEntries = integer("memoryIdempotencyStore", "maxEntries", o.maxEntries, 10_000, { min: 1 });
  const entries = new Map<string, KeyEntry>();

  function live(key: string, now: number): KeyEntry | undefined {
    const e = entries.get(key);
    if (e !== undefined && e.expiresAt <= now) {
      entries.delete(key);
      return undefined;
    }
    return e;
  }

  function put(key: string, e: KeyEntry): void {
    entries.delete(key);
    entries.set(key, e);
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
  }

  return {
    kind: "memory",
    async begin(key, fingerprint, token, lockMs): Promise<BeginResult> {
      const now = clock.now();
      const e = live(key, now);
      if (e === undefined) {
        put(key, { fingerprint, token, expiresAt: now + lockMs, response: undefined });
        return { state: "acquired" };
      }
      if (e.response !== undefined) {
        return { state: "completed", fingerprint: e.fingerprint, response: copy(e.response) };
      }
      return { state: "in_flight", fingerprint: e.fingerprint, retryAfterMs: e.expiresAt - now };
    },
    async complete(key, token, response, ttlMs) {
      const now = clock.now();
      const e = live(key, now);
      if (e === undefined || e.response !== undefined || e.token !== token) return false;
      put(key, {
        fingerprint: e.fingerprint,
        token: undefined,
        expiresAt: now + ttlMs,
        response: copy(response),
      });
      return true;
    },
    async release(key, token) {
      const e = live(key, clock.now());
      if (e !== undefined && e.response === undefined && e.token === token) entries.delete(key);
    },
  };
}

function copy(response: StoredResponse): StoredResponse {
  return {
    status: response.status,
    headers: response.headers.map(([n, v]) => [n, v] as const),
    body: response.body.slice(),
  };
}
