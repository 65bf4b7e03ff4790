import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ManualClock, manualClock } from "../core/clock.js";
import { type AlgorithmState, evaluateCheck } from "./algorithms.js";
import type { Algorithm, ConcurrencyStore, LimitSpec, RateLimitStore, StoreDecision } from "./types.js";

/**
 * The behaviour every `RateLimitStore` (and `ConcurrencyStore`) must show, as a vitest suite.
 * Each store's test file calls `describeRateLimitStoreContract` with a factory.
 *
 * Two kinds of cases:
 * - real-time cases use windows of a minute or more and never move time, so they hold for stores
 *   that read their own clock (Redis `TIME`, Postgres `now()`);
 * - manual-clock cases (`manualClock: true`) drive the clock passed to the factory and compare every
 *   answer with the reference arithmetic of algorithms.ts; only stores that read that clock run them.
 *
 * Keys carry a random prefix per run, so several files (and processes) can share one server.
 */

export interface ContractStore {
  store: RateLimitStore & Partial<ConcurrencyStore>;
  /** Removes what the run created (keys, schema) and closes connections. */
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** The store reads time from the clock given to the factory (enables the manual-clock cases). */
  manualClock?: boolean;
  /** The store also implements ConcurrencyStore. */
  concurrency?: boolean;
}

const ALGORITHMS: Algorithm[] = ["fixed-window", "sliding-window", "token-bucket", "gcra"];
const MINUTE = 60_000;
/** Real-time cases use long windows so that a run crossing a window boundary is very unlikely. */
const HOUR = 60 * MINUTE;

const limit = (name: string, algorithm: Algorithm, n: number, windowMs = HOUR): LimitSpec =>
  Object.freeze({ name, algorithm, limit: n, windowMs });

/** Registers the contract suite for one store. */
export function describeRateLimitStoreContract(
  name: string,
  makeStore: (clock: ManualClock) => Promise<ContractStore>,
  options: ContractOptions = {},
): void {
  describe(`RateLimitStore contract: ${name}`, () => {
    const clock = manualClock();
    let handle: ContractStore;
    let store: RateLimitStore & Partial<ConcurrencyStore>;
    const run = randomUUID().slice(0, 8);
    let n = 0;
    /** A key no other case (or run) uses. */
    const key = (label = "k") => `contract:${run}:${label}:${n++}`;

    beforeAll(async () => {
      handle = await makeStore(clock);
      store = handle.store;
    });
    afterAll(async () => {
      await handle?.cleanup();
    });

    const consume = (k: string, limits: readonly LimitSpec[], cost = 1): Promise<StoreDecision> =>
      store.consume({ key: k, limits, cost });

    describe("real time", () => {
      for (const algorithm of ALGORITHMS) {
        it(`${algorithm}: admits exactly the limit, counting remaining down, then denies with a wait`, async () => {
          const limits = [limit("a", algorithm, 5)];
          const k = key();
          const remaining: number[] = [];
          for (let i = 0; i < 5; i++) {
            const d = await consume(k, limits);
            expect(d.allowed).toBe(true);
            expect(d.blockedUntilMs).toBeUndefined();
            expect(d.limits[0]?.retryAfterMs).toBe(0);
            remaining.push(d.limits[0]?.remaining as number);
          }
          expect(remaining).toEqual([4, 3, 2, 1, 0]);
          const denied = await consume(k, limits);
          expect(denied.allowed).toBe(false);
          expect(denied.limits[0]?.remaining).toBe(0);
          expect(denied.limits[0]?.retryAfterMs).toBeGreaterThan(0);
          // A sliding window may have to wait for the next window and then for the decay.
          expect(denied.limits[0]?.retryAfterMs).toBeLessThanOrEqual(2 * HOUR);
          expect(denied.limits[0]?.resetMs).toBeGreaterThan(0);
          expect(denied.limits[0]?.resetMs).toBeLessThanOrEqual(2 * HOUR);
        });

        it(`${algorithm}: denied checks consume nothing (no drain into a lockout)`, async () => {
          const limits = [limit("a", algorithm, 2)];
          const k = key();
          await consume(k, limits);
          await consume(k, limits);
          const first = await consume(k, limits);
          for (let i = 0; i < 20; i++) await consume(k, limits);
          const last = await consume(k, limits);
          expect(first.allowed).toBe(false);
          expect(last.allowed).toBe(false);
          // Time only moved forward: the wait cannot have grown.
          expect(last.limits[0]?.retryAfterMs).toBeLessThanOrEqual(first.limits[0]?.retryAfterMs as number);
        });

        it(`${algorithm}: a cost takes that many units; a cost that does not fit takes none`, async () => {
          const limits = [limit("a", algorithm, 5)];
          const k = key();
          expect((await consume(k, limits, 3)).limits[0]?.remaining).toBe(2);
          const denied = await consume(k, limits, 3);
          expect(denied.allowed).toBe(false);
          expect(denied.limits[0]?.remaining).toBe(2);
          expect((await consume(k, limits, 2)).limits[0]?.remaining).toBe(0);
        });

        it(`${algorithm}: cost 0 reads an unknown key as full without creating it`, async () => {
          const limits = [limit("a", algorithm, 7, MINUTE)];
          const k = key();
          const peek = await consume(k, limits, 0);
          expect(peek.allowed).toBe(true);
          expect(peek.limits[0]).toMatchObject({ remaining: 7, retryAfterMs: 0 });
          expect((await consume(k, limits, 7)).allowed).toBe(true);
        });

        it(`${algorithm}: refund gives units back, never above the limit`, async () => {
          const limits = [limit("a", algorithm, 5)];
          const k = key();
          await consume(k, limits, 4);
          await store.refund(k, limits, 2);
          expect((await consume(k, limits, 0)).limits[0]?.remaining).toBe(3);
          await store.refund(k, limits, 50);
          expect((await consume(k, limits, 0)).limits[0]?.remaining).toBe(5);
        });
      }

      it("checks several limits all-or-nothing: when one denies, none consumes", async () => {
        const limits = [
          limit("burst", "gcra", 5),
          limit("minute", "sliding-window", 3),
          limit("day", "fixed-window", 100, 24 * 60 * MINUTE),
        ];
        const k = key();
        for (let i = 0; i < 3; i++) expect((await consume(k, limits)).allowed).toBe(true);
        const denied = await consume(k, limits);
        expect(denied.allowed).toBe(false);
        expect(denied.limits.map((l) => l.remaining)).toEqual([2, 0, 97]);
        expect(denied.limits[0]?.retryAfterMs).toBe(0);
        expect(denied.limits[1]?.retryAfterMs).toBeGreaterThan(0);
        expect(denied.limits[2]?.retryAfterMs).toBe(0);
        const peek = await consume(k, limits, 0);
        expect(peek.limits.map((l) => l.remaining)).toEqual([2, 0, 97]);
      });

      it("answers limits in the order they were given", async () => {
        const a = [limit("x", "fixed-window", 3), limit("y", "fixed-window", 9)];
        const b = [limit("y", "fixed-window", 9), limit("x", "fixed-window", 3)];
        const k = key();
        expect((await consume(k, a)).limits.map((l) => l.remaining)).toEqual([2, 8]);
        expect((await consume(k, b, 0)).limits.map((l) => l.remaining)).toEqual([8, 2]);
      });

      it("keeps keys and limit names apart", async () => {
        const k1 = key();
        const k2 = key();
        const x = [limit("x", "fixed-window", 2)];
        const y = [limit("y", "fixed-window", 2)];
        await consume(k1, x, 2);
        expect((await consume(k2, x, 0)).limits[0]?.remaining).toBe(2);
        expect((await consume(k1, y, 0)).limits[0]?.remaining).toBe(2);
        expect((await consume(`${k1}🔑ключ`, x, 0)).limits[0]?.remaining).toBe(2);
      });

      it("blocks a key for a duration of store time, without touching other keys", async () => {
        const limits = [limit("a", "fixed-window", 10)];
        const k = key();
        const before = await consume(k, limits, 0);
        await store.block(k, 5 * MINUTE);
        const d = await consume(k, limits);
        expect(d.allowed).toBe(false);
        expect(d.blockedUntilMs).toBeGreaterThanOrEqual(before.nowMs + 5 * MINUTE);
        expect(d.blockedUntilMs).toBeLessThanOrEqual(d.nowMs + 5 * MINUTE);
        expect(d.limits[0]?.remaining).toBe(10);
        expect((await consume(key(), limits)).allowed).toBe(true);
      });

      it("reset forgets state, block and reservations", async () => {
        const limits = [limit("a", "sliding-window", 3)];
        const k = key();
        await consume(k, limits, 2);
        await store.consume({ key: k, limits, cost: 1, reservation: { id: "r", ttlMs: MINUTE } });
        await store.block(k, MINUTE);
        await store.reset(k, limits);
        const d = await consume(k, limits);
        expect(d.allowed).toBe(true);
        expect(d.limits[0]?.remaining).toBe(2);
        expect(await store.settle(k, limits, "r", "release")).toBe(false);
        expect((await consume(k, limits, 0)).limits[0]?.remaining).toBe(2);
      });

      it("reservations: release refunds, commit keeps, settling twice or an unknown id answers false", async () => {
        const limits = [limit("spend", "fixed-window", 1000, 24 * 60 * MINUTE)];
        const k = key();
        const r1 = await store.consume({
          key: k,
          limits,
          cost: 300,
          reservation: { id: "one", ttlMs: MINUTE },
        });
        expect(r1.allowed).toBe(true);
        expect(r1.limits[0]?.remaining).toBe(700);
        await store.consume({ key: k, limits, cost: 200, reservation: { id: "two", ttlMs: MINUTE } });
        expect(await store.settle(k, limits, "one", "release")).toBe(true);
        expect((await consume(k, limits, 0)).limits[0]?.remaining).toBe(800);
        expect(await store.settle(k, limits, "two", "commit")).toBe(true);
        expect((await consume(k, limits, 0)).limits[0]?.remaining).toBe(800);
        expect(await store.settle(k, limits, "one", "release")).toBe(false);
        expect(await store.settle(k, limits, "two", "release")).toBe(false);
        expect(await store.settle(k, limits, "nope", "commit")).toBe(false);
        expect((await consume(k, limits, 0)).limits[0]?.remaining).toBe(800);
      });

      it("a denied check records no reservation", async () => {
        const limits = [limit("spend", "fixed-window", 100, 24 * 60 * MINUTE)];
        const k = key();
        const d = await store.consume({
          key: k,
          limits,
          cost: 101,
          reservation: { id: "big", ttlMs: MINUTE },
        });
        expect(d.allowed).toBe(false);
        expect(await store.settle(k, limits, "big", "release")).toBe(false);
        expect((await consume(k, limits, 0)).limits[0]?.remaining).toBe(100);
      });

      it("concurrent checks admit exactly the limit", async () => {
        const limits = [limit("a", "sliding-window", 10), limit("b", "gcra", 25)];
        const k = key();
        const answers = await Promise.all(Array.from({ length: 60 }, () => consume(k, limits)));
        expect(answers.filter((d) => d.allowed)).toHaveLength(10);
        expect((await consume(k, limits, 0)).limits.map((l) => l.remaining)).toEqual([0, 15]);
      });

      if (options.concurrency) {
        describe("concurrency leases", () => {
          const leases = () => store as RateLimitStore & ConcurrencyStore;

          it("holds at most `limit` leases; a denial says when the earliest ends", async () => {
            const k = key("lease");
            expect(await leases().acquire(k, "a", 2, MINUTE)).toEqual({
              acquired: true,
              held: 1,
              retryAfterMs: 0,
            });
            expect(await leases().acquire(k, "b", 2, MINUTE)).toEqual({
              acquired: true,
              held: 2,
              retryAfterMs: 0,
            });
            const denied = await leases().acquire(k, "c", 2, MINUTE);
            expect(denied.acquired).toBe(false);
            expect(denied.held).toBe(2);
            expect(denied.retryAfterMs).toBeGreaterThan(0);
            expect(denied.retryAfterMs).toBeLessThanOrEqual(MINUTE);
          });

          it("a released slot can be taken again; releasing twice or an unknown lease answers false", async () => {
            const k = key("lease");
            await leases().acquire(k, "a", 1, MINUTE);
            expect(await leases().release(k, "a")).toBe(true);
            expect(await leases().release(k, "a")).toBe(false);
            expect(await leases().release(k, "zzz")).toBe(false);
            expect((await leases().acquire(k, "b", 1, MINUTE)).acquired).toBe(true);
          });

          it("extends a held lease and refuses to extend an unknown one", async () => {
            const k = key("lease");
            await leases().acquire(k, "a", 1, MINUTE);
            expect(await leases().extend(k, "a", 2 * MINUTE)).toBe(true);
            expect(await leases().extend(k, "nope", MINUTE)).toBe(false);
          });

          it("concurrent acquisitions hold exactly the limit", async () => {
            const k = key("lease");
            const answers = await Promise.all(
              Array.from({ length: 30 }, (_, i) => leases().acquire(k, `l${i}`, 3, MINUTE)),
            );
            expect(answers.filter((a) => a.acquired)).toHaveLength(3);
          });
        });
      }
    });

    if (options.manualClock) {
      describe("manual clock", () => {
        it("answers exactly like the reference arithmetic over time, on every algorithm", async () => {
          const limits = ALGORITHMS.map((a, i) => limit(`l${i}`, a, 3 + i, 1000 + 7 * i));
          // Each limit alone, and all four together, follow the same script.
          const sets = [...limits.map((l) => [l]), limits];
          for (const set of sets) {
            const k = key("ref");
            const states: Array<AlgorithmState | undefined> = set.map(() => undefined);
            const script = [0, 0, 1, 0, 0, 150, 0, 333, 0, 0, 999, 1, 0, 2500, 0, 0, 0, 47];
            for (const [i, dt] of script.entries()) {
              clock.advance(dt);
              const cost = 1 + (i % 3 === 2 ? 1 : 0);
              const now = clock.now();
              const expected = evaluateCheck(set, states, now, cost);
              const d = await consume(k, set, cost);
              expect(d.nowMs).toBe(now);
              expect(d.allowed).toBe(expected.admits);
              expect(d.limits).toEqual(expected.reports);
              if (expected.admits) states.splice(0, states.length, ...expected.next);
            }
          }
        });

        it("a fixed window starts over at the window boundary", async () => {
          const limits = [limit("a", "fixed-window", 2, 1000)];
          const k = key();
          clock.set(Date.UTC(2026, 1, 1) + 500);
          await consume(k, limits, 2);
          expect((await consume(k, limits)).limits[0]).toEqual({
            remaining: 0,
            resetMs: 500,
            retryAfterMs: 500,
          });
          clock.advance(500);
          expect((await consume(k, limits)).limits[0]).toEqual({
            remaining: 1,
            resetMs: 1000,
            retryAfterMs: 0,
          });
        });

        it("an unsettled reservation is refunded after its ttl, and settling it then answers false", async () => {
          const limits = [limit("spend", "token-bucket", 100, 24 * 60 * MINUTE)];
          const k = key();
          await store.consume({ key: k, limits, cost: 60, reservation: { id: "r", ttlMs: 1000 } });
          clock.advance(999);
          expect((await consume(k, limits, 0)).limits[0]?.remaining).toBe(40);
          clock.advance(1);
          expect((await consume(k, limits, 0)).limits[0]?.remaining).toBe(100);
          expect(await store.settle(k, limits, "r", "commit")).toBe(false);
        });

        it("a block ends at its time", async () => {
          const limits = [limit("a", "gcra", 1, 1000)];
          const k = key();
          await store.block(k, 2000);
          const d = await consume(k, limits);
          expect(d.blockedUntilMs).toBe(clock.now() + 2000);
          clock.advance(1999);
          expect((await consume(k, limits)).allowed).toBe(false);
          clock.advance(1);
          expect((await consume(k, limits)).allowed).toBe(true);
        });

        if (options.concurrency) {
          it("a lease not released frees its slot after leaseMs (crashed holder)", async () => {
            const leases = store as RateLimitStore & ConcurrencyStore;
            const k = key("lease");
            await leases.acquire(k, "crashed", 1, 5000);
            clock.advance(1000);
            expect(await leases.acquire(k, "next", 1, 5000)).toEqual({
              acquired: false,
              held: 1,
              retryAfterMs: 4000,
            });
            clock.advance(4000);
            expect((await leases.acquire(k, "next", 1, 5000)).acquired).toBe(true);
            expect(await leases.release(k, "crashed")).toBe(false);
            expect(await leases.extend(k, "crashed", 5000)).toBe(false);
          });
        }
      });
    }
  });
}
