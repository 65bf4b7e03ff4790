import { type Clock, systemClock } from "../../core/clock.js";
import { checkKeys, integer } from "../../core/options.js";
import type { ReplayStore } from "../../webhooks/types.js";

export interface MemoryReplayStoreOptions {
  /** Time source. Default: the system clock. */
  clock?: Clock;
  /** Most ids kept; past it the oldest is dropped (it is the nearest to expiring). Default: 100 000. */
  maxEntries?: number;
}

/**
 * A per-process replay store: a Map from key to expiry, swept a few entries per call (no timers).
 * Good for one instance; with several instances use the Redis or Postgres store so a delivery
 * replayed to another instance is caught too.
 */
export function memoryReplayStore(options: MemoryReplayStoreOptions = {}): ReplayStore & { size(): number } {
  const o = checkKeys("memoryReplayStore", options, ["clock", "maxEntries"]);
  const clock = (o.clock as Clock | undefined) ?? systemClock;
  const maxEntries = integer("memoryReplayStore", "maxEntries", o.maxEntries, 100_000, { min: 1 });
  const expiries = new Map<string, number>();

  function sweep(now: number): void {
    let budget = 16;
    for (const [key, expiresAt] of expiries) {
      if (budget-- === 0 || expiresAt > now) break;
      expiries.delete(key);
    }
  }

  return {
    kind: "memory",
    async remember(key, ttlMs) {
      const now = clock.now();
      sweep(now);
      const expiresAt = expiries.get(key);
      if (expiresAt !== undefined && expiresAt > now) return false;
      expiries.delete(key);
      expiries.set(key, now + ttlMs);
      if (expiries.size > maxEntries) {
        const oldest = expiries.keys().next().value;
        if (oldest !== undefined) expiries.delete(oldest);
      }
      return true;
    },
    async forget(key) {
      expiries.delete(key);
    },
    size: () => expiries.size,
  };
}
