import { describe, expect, it } from "vitest";
import type { ManualClock } from "../core/clock.js";
import type { ReplayStore } from "./types.js";

/**
 * The behaviour every ReplayStore must show; run by each store's test file against a fresh store.
 * `clock` is the manual clock the store reads; `undefined` when the store keeps server time, in
 * which case expiry is checked through `ttlOf` instead of by moving time.
 */
export interface ReplayStoreFixture {
  store: ReplayStore;
  clock: ManualClock | undefined;
  /** Remaining ms the store will remember `key`, for stores on server time. */
  ttlOf?: (key: string) => Promise<number>;
}

export function replayStoreContract(name: string, make: () => Promise<ReplayStoreFixture>): void {
  describe(`${name} replay store contract`, () => {
    let n = 0;
    const key = () => `contract:${name}:${Date.now()}:${n++}`;

    it("remembers a key once: fresh, then duplicate", async () => {
      const { store } = await make();
      const k = key();
      expect(await store.remember(k, 60_000)).toBe(true);
      expect(await store.remember(k, 60_000)).toBe(false);
      expect(await store.remember(`${k}-other`, 60_000)).toBe(true);
    });

    it("lets exactly one of 50 concurrent remembers of one key be fresh", async () => {
      const { store } = await make();
      const k = key();
      const results = await Promise.all(Array.from({ length: 50 }, () => store.remember(k, 60_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("forgets a key so the next delivery is fresh again", async () => {
      const { store } = await make();
      const k = key();
      await store.remember(k, 60_000);
      await store.forget(k);
      expect(await store.remember(k, 60_000)).toBe(true);
      await store.forget(`${k}-never-seen`);
    });

    it("forgets a key once its ttl has passed, not before", async () => {
      const { store, clock, ttlOf } = await make();
      const k = key();
      expect(await store.remember(k, 5_000)).toBe(true);
      if (clock === undefined) {
        const ttl = await (ttlOf as (key: string) => Promise<number>)(k);
        expect(ttl).toBeGreaterThan(4_000);
        expect(ttl).toBeLessThanOrEqual(5_000);
        return;
      }
      clock.advance(4_999);
      expect(await store.remember(k, 5_000)).toBe(false);
      clock.advance(2);
      expect(await store.remember(k, 5_000)).toBe(true);
      expect(await store.remember(k, 5_000)).toBe(false);
    });
  });
}
