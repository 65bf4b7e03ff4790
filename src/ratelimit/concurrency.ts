import { randomUUID } from "node:crypto";
import { type Clock, systemClock } from "../core/clock.js";
import { BulwarkError } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, describe, integer, oneOf } from "../core/options.js";
import { memoryStore } from "../stores/memory/store.js";
import { normalizeKey } from "./keys.js";
import { withTimeout } from "./timeout.js";
import type { ConcurrencyStore, LeaseDecision } from "./types.js";

export interface ConcurrencyLimitOptions {
  /** Where leases live (default: a new `memoryStore()` using `clock`). */
  store?: ConcurrencyStore;
  /** Most leases held at once per key (e.g. 1: one withdrawal in flight per account). */
  limit: number;
  /** A lease not released within this time expires, so a crashed holder loses its slot. */
  leaseMs: number;
  /** Prepended to every key (default "cc:"). */
  prefix?: string;
  /** When the store fails: "closed" (default) refuses, "open" grants an unenforced lease and logs. */
  failMode?: "closed" | "open";
  /** Longest wait for the store (default 100 ms). */
  storeTimeoutMs?: number;
  /** Clock of the default memory store and of log throttling (default system clock). */
  clock?: Clock;
  /** Where store failures are reported, once per minute at most (default JSON lines on stderr). */
  logger?: Logger;
}

/** A held slot. Release it when the operation ends; extend it if the operation runs long. */
export interface Lease {
  readonly id: string;
  /** Frees the slot. Resolves false when the lease had already expired or been released. */
  release(): Promise<boolean>;
  /** Restarts the lease's time (default `leaseMs`). Resolves false when it had expired. */
  extend(leaseMs?: number): Promise<boolean>;
}

export type ConcurrencyCode =
  | "ERR_CONCURRENCY_LIMIT_REACHED"
  | "ERR_RATELIMIT_STORE_UNAVAILABLE"
  | "ERR_RATELIMIT_INVALID_KEY";

export type AcquireResult =
  | {
      readonly acquired: true;
      readonly lease: Lease;
      /** Leases held for the key, this one included (0 when granted because the store failed open). */
      readonly held: number;
      /** "ERR_RATELIMIT_STORE_UNAVAILABLE" when granted because the store failed open. */
      readonly code: "ERR_RATELIMIT_STORE_UNAVAILABLE" | undefined;
    }
  | {
      readonly acquired: false;
      readonly lease: undefined;
      readonly held: number;
      /** Ms until the earliest held lease expires (1000 when the store is unavailable; 0 for a bad key). */
      readonly retryAfterMs: number;
      readonly code: ConcurrencyCode;
    };

export interface ConcurrencyLimiter {
  /** Takes a slot for `key` if fewer than `limit` are held. Never throws for a refusal. */
  acquire(key: string): Promise<AcquireResult>;
  readonly limit: number;
  readonly leaseMs: number;
}

const FAILURE_LOG_INTERVAL_MS = 60_000;

function isLeaseDecision(d: unknown): d is LeaseDecision {
  if (d === null || typeof d !== "object") return false;
  const x = d as LeaseDecision;
  return (
    typeof x.acquired === "boolean" &&
    typeof x.held === "number" &&
    Number.isFinite(x.held) &&
    x.held >= 0 &&
    typeof x.retryAfterMs === "number" &&
    Number.isFinite(x.retryAfterMs) &&
    x.retryAfterMs >= 0 &&
    (x.acquired || x.retryAfterMs > 0)
  );
}

/**
 * Limits how many operations run at once per key — at most one withdrawal in flight per account,
 * say. A lease that is never released (the holder crashed) frees its slot after `leaseMs`.
 */
export function concurrencyLimit(options: ConcurrencyLimitOptions): ConcurrencyLimiter {
  const where = "concurrencyLimit";
  const o = checkKeys(where, options, [
    "store",
    "limit",
    "leaseMs",
    "prefix",
    "failMode",
    "storeTimeoutMs",
    "clock",
    "logger",
  ]);
  const limit = integer(where, "limit", o.limit, undefined, { min: 1, max: 1_000_000 });
  const leaseMs = integer(where, "leaseMs", o.leaseMs, undefined, { min: 1, max: 7 * 24 * 60 * 60 * 1000 });
  const failMode = oneOf(where, "failMode", o.failMode, ["closed", "open"] as const, "closed");
  const storeTimeoutMs = integer(where, "storeTimeoutMs", o.storeTimeoutMs, 100, { min: 1, max: 60_000 });
  const prefix = o.prefix ?? "cc:";
  if (typeof prefix !== "string" || prefix.length > 64) {
    throw configError(where, `"prefix" must be a string of at most 64 characters`);
  }
  const clock = (o.clock ?? systemClock) as Clock;
  if (clock === null || typeof clock !== "object" || typeof clock.now !== "function") {
    throw configError(where, `"clock" must be an object with a now() method`);
  }
  const logger = (o.logger ?? consoleLogger) as Logger;
  if (logger === null || typeof logger !== "object" || typeof logger.error !== "function") {
    throw configError(where, `"logger" must have debug, info, warn and error methods`);
  }
  const store = (o.store ?? memoryStore({ clock })) as ConcurrencyStore;
  if (
    store === null ||
    typeof store !== "object" ||
    !["acquire", "release", "extend"].every((m) => typeof (store as never)[m] === "function")
  ) {
    throw configError(where, `"store" must implement ConcurrencyStore, got ${describe(store)}`);
  }

  let lastLogMs = Number.NEGATIVE_INFINITY;
  const failed = (error: unknown): AcquireResult => {
    const now = clock.now();
    if (now - lastLogMs >= FAILURE_LOG_INTERVAL_MS) {
      lastLogMs = now;
      const cause =
        error instanceof Error ? ((error as { code?: unknown }).code ?? error.name) : typeof error;
      logger.error(
        { code: "ERR_RATELIMIT_STORE_UNAVAILABLE", store: store.kind, failMode, cause },
        "concurrency store unavailable",
      );
    }
    if (failMode === "open") {
      const lease: Lease = {
        id: "unenforced",
        release: () => Promise.resolve(false),
        extend: () => Promise.resolve(false),
      };
      return { acquired: true, lease, held: 0, code: "ERR_RATELIMIT_STORE_UNAVAILABLE" };
    }
    return {
      acquired: false,
      lease: undefined,
      held: 0,
      retryAfterMs: 1000,
      code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
    };
  };

  const settle = async (work: () => Promise<boolean>): Promise<boolean> => {
    let answer: unknown;
    try {
      answer = await withTimeout(work, storeTimeoutMs);
    } catch (error) {
      throw new BulwarkError("ERR_RATELIMIT_STORE_UNAVAILABLE", "concurrency store operation failed", {
        status: 503,
        cause: error,
      });
    }
    if (typeof answer !== "boolean") {
      throw new BulwarkError("ERR_RATELIMIT_STORE_UNAVAILABLE", "concurrency store answered garbage", {
        status: 503,
      });
    }
    return answer;
  };

  return {
    limit,
    leaseMs,
    acquire: async (key) => {
      const k = normalizeKey(key);
      if (k === undefined) {
        return {
          acquired: false,
          lease: undefined,
          held: 0,
          retryAfterMs: 0,
          code: "ERR_RATELIMIT_INVALID_KEY",
        };
      }
      const full = prefix + k;
      const id = randomUUID();
      let d: unknown;
      try {
        d = await withTimeout(() => store.acquire(full, id, limit, leaseMs), storeTimeoutMs);
      } catch (error) {
        return failed(error);
      }
      if (!isLeaseDecision(d)) return failed(new Error("garbage"));
      if (!d.acquired) {
        return {
          acquired: false,
          lease: undefined,
          held: d.held,
          retryAfterMs: d.retryAfterMs,
          code: "ERR_CONCURRENCY_LIMIT_REACHED",
        };
      }
      const lease: Lease = {
        id,
        release: () => settle(() => store.release(full, id)),
        extend: (ms = leaseMs) => {
          if (!Number.isSafeInteger(ms) || ms < 1) {
            return Promise.reject(configError(`${where}: extend`, `"leaseMs" must be an integer ≥ 1`));
          }
          return settle(() => store.extend(full, id, ms));
        },
      };
      return { acquired: true, lease, held: d.held, code: undefined };
    },
  };
}
