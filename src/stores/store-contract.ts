import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Clock, manualClock } from "../core/clock.js";
import type {
  Algorithm,
  ConcurrencyStore,
  LimitSpec,
  RateLimitStore,
  StoreDecision,
} from "../ratelimit/types.js";
import { referenceStore, type StoredState } from "./reference-store.js";

/**
 * The contract every rate-limit store answers to: memory, Redis, Postgres and PGlite run the same
 * cases. `factory({})` must return a store on its own clock (the store's time); `factory({ clock })`
 * a store that takes time from `clock` (the test-only option), for the time-dependent cases and the
 * differential test that holds the store to `referenceStore` number for number.
 *
 * Cases on store time use windows of a day, so nothing refills while a case runs; every case uses
 * its own key, so one store may serve them all.
 */

export type ContractStore = RateLimitStore & ConcurrencyStore;
export type ContractFactory = (options: { clock?: Clock }) => ContractStore | Promise<ContractStore>;

export interface ContractOptions {
  /** fast-check runs of the differential test. Default 40. */
  runs?: number;
  /**
   * Reads the state a store holds for one limit of a key, as written (expired or not), so the
   * differential test also compares the stored numbers bit for bit, not only the rounded answers.
   */
  inspect?: (key: string, spec: LimitSpec) => Promise<StoredState | undefined>;
}

/** Numbers of state per algorithm (algorithms.ts `AlgorithmState`). */
const STATE_SIZE: Record<Algorithm, number> = {
  "fixed-window": 2,
  "sliding-window": 3,
  "token-bucket": 2,
  gcra: 1,
};

/** The stored state when it is live for `spec` at `now`, normalised; undefined otherwise. */
function live(stored: StoredState | undefined, spec: LimitSpec, now: number) {
  if (
    stored === undefined ||
    stored.expiresAt <= now ||
    stored.algorithm !== spec.algorithm ||
    stored.windowMs !== spec.windowMs
  )
    return undefined;
  return {
    expiresAt: stored.expiresAt + 0,
    state: stored.state.slice(0, STATE_SIZE[spec.algorithm]).map((v) => v + 0),
  };
}

const ALGORITHMS: readonly Algorithm[] = ["fixed-window", "sliding-window", "token-bucket", "gcra"];
const DAY_MS = 86_400_000;

const spec = (name: string, algorithm: Algorithm, limit: number, windowMs = DAY_MS): LimitSpec => ({
  name,
  algorithm,
  limit,
  windowMs,
});

/** -0 and +0 are the same answer. */
function plain(d: StoreDecision) {
  return {
    allowed: d.allowed,
    nowMs: d.nowMs + 0,
    blockedUntilMs: d.blockedUntilMs,
    limits: d.limits.map((l) => ({
      remaining: l.remaining + 0,
      resetMs: l.resetMs + 0,
      retryAfterMs: l.retryAfterMs + 0,
    })),
  };
}

export function describeRateLimitStoreContract(
  name: string,
  factory: ContractFactory,
  options: ContractOptions = {},
): void {
  const runs = options.runs ?? 40;
  const key = (label: string) => `contract:${label}:${randomUUID()}`;

  describe(`${name} store contract: store time`, () => {
    for (const algorithm of ALGORITHMS) {
      it(`${algorithm}: admits exactly the limit, then denies with a retry hint`, async () => {
        const store = await factory({});
        const k = key(algorithm);
        const limits = [spec("a", algorithm, 5)];
        const before = Date.now();
        for (let i = 0; i < 5; i++) {
          const d = await store.consume({ key: k, limits, cost: 1 });
          expect(d.allowed).toBe(true);
          expect(d.limits[0]?.remaining).toBe(4 - i);
          expect(d.limits[0]?.retryAfterMs).toBe(0);
          expect(d.blockedUntilMs).toBeUndefined();
        }
        const denied = await store.consume({ key: k, limits, cost: 1 });
        expect(denied.allowed).toBe(false);
        expect(denied.limits[0]?.remaining).toBe(0);
        expect(denied.limits[0]?.retryAfterMs).toBeGreaterThan(0);
        expect(denied.limits[0]?.resetMs).toBeGreaterThan(0);
        expect(denied.limits[0]?.resetMs).toBeLessThanOrEqual(2 * DAY_MS);
        // The store's clock is this machine's clock here (same host); generous bound.
        expect(Math.abs(denied.nowMs - before)).toBeLessThan(10_000);
      });
    }

    it("a denied check consumes nothing from any limit (all-or-nothing)", async () => {
      const store = await factory({});
      const k = key("atomic");
      const limits = [spec("wide", "token-bucket", 10), spec("narrow", "fixed-window", 2)];
      expect((await store.consume({ key: k, limits, cost: 1 })).allowed).toBe(true);
      expect((await store.consume({ key: k, limits, cost: 1 })).allowed).toBe(true);
      for (let i = 0; i < 3; i++) {
        const denied = await store.consume({ key: k, limits, cost: 1 });
        expect(denied.allowed).toBe(false);
        expect(denied.limits[0]).toMatchObject({ remaining: 8, retryAfterMs: 0 });
        expect(denied.limits[1]?.remaining).toBe(0);
        expect(denied.limits[1]?.retryAfterMs).toBeGreaterThan(0);
      }
      const peek = await store.consume({ key: k, limits: [limits[0]!], cost: 0 });
      expect(peek.limits[0]?.remaining).toBe(8);
    });

    it("a cost larger than what is left is denied and consumes nothing", async () => {
      const store = await factory({});
      const k = key("cost");
      const limits = [spec("a", "sliding-window", 5)];
      expect((await store.consume({ key: k, limits, cost: 3 })).limits[0]?.remaining).toBe(2);
      const denied = await store.consume({ key: k, limits, cost: 3 });
      expect(denied.allowed).toBe(false);
      expect(denied.limits[0]?.remaining).toBe(2);
      const rest = await store.consume({ key: k, limits, cost: 2 });
      expect(rest.allowed).toBe(true);
      expect(rest.limits[0]?.remaining).toBe(0);
    });

    it("cost 0 peeks without consuming", async () => {
      const store = await factory({});
      const k = key("peek");
      const limits = [spec("a", "gcra", 3), spec("b", "fixed-window", 3)];
      for (let i = 0; i < 4; i++) {
        const d = await store.consume({ key: k, limits, cost: 0 });
        expect(d.allowed).toBe(true);
        expect(d.limits.map((l) => l.remaining)).toEqual([3, 3]);
      }
    });

    it("evaluates up to 8 limits in one check, all or nothing", async () => {
      const store = await factory({});
      const k = key("eight");
      const limits = Array.from({ length: 8 }, (_, i) => spec(`l${i}`, ALGORITHMS[i % 4]!, 10 + i));
      const d = await store.consume({ key: k, limits, cost: 10 });
      expect(d.allowed).toBe(true);
      expect(d.limits.map((l) => l.remaining)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      const denied = await store.consume({ key: k, limits: limits.slice(1), cost: 2 });
      expect(denied.allowed).toBe(false);
      expect(denied.limits.map((l) => l.remaining)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(denied.limits.map((l) => l.retryAfterMs > 0)).toEqual([
        true,
        false,
        false,
        false,
        false,
        false,
        false,
      ]);
    });

    it("concurrent checks on one key never admit more than the limit", async () => {
      const store = await factory({});
      const k = key("race");
      const limits = [spec("a", "fixed-window", 25), spec("b", "gcra", 40)];
      const decisions = await Promise.all(
        Array.from({ length: 60 }, () => store.consume({ key: k, limits, cost: 1 })),
      );
      expect(decisions.filter((d) => d.allowed)).toHaveLength(25);
    });

    it("keys are independent, including keys with braces, percent signs and 256 bytes", async () => {
      const store = await factory({});
      const base = key("keys");
      const keys = [
        `${base}a}b`,
        `${base}a%7Db`,
        `${base}{x}`,
        `}${base}`,
        `${base}é`,
        `${base}`.padEnd(256, "z"),
      ];
      const limits = [spec("a", "fixed-window", 1)];
      for (const k of keys) expect((await store.consume({ key: k, limits, cost: 1 })).allowed).toBe(true);
      for (const k of keys) expect((await store.consume({ key: k, limits, cost: 1 })).allowed).toBe(false);
    });

    it("block denies every check until its end, never shortens, and reset lifts it", async () => {
      const store = await factory({});
      const k = key("block");
      const limits = [spec("a", "token-bucket", 5)];
      await store.block(k, 60_000);
      await store.block(k, 1_000);
      const d = await store.consume({ key: k, limits, cost: 1 });
      expect(d.allowed).toBe(false);
      expect(d.blockedUntilMs).toBeDefined();
      expect(d.blockedUntilMs! - d.nowMs).toBeGreaterThan(55_000);
      expect(d.blockedUntilMs! - d.nowMs).toBeLessThanOrEqual(60_000);
      expect(d.limits[0]).toMatchObject({ remaining: 5, retryAfterMs: 0 });
      await store.reset(k, limits);
      const after = await store.consume({ key: k, limits, cost: 1 });
      expect(after.allowed).toBe(true);
      expect(after.blockedUntilMs).toBeUndefined();
    });

    it("reset forgets every listed limit", async () => {
      const store = await factory({});
      const k = key("reset");
      const limits = [spec("a", "sliding-window", 2), spec("b", "gcra", 2)];
      await store.consume({ key: k, limits, cost: 2 });
      expect((await store.consume({ key: k, limits, cost: 1 })).allowed).toBe(false);
      await store.reset(k, limits);
      const d = await store.consume({ key: k, limits, cost: 1 });
      expect(d.allowed).toBe(true);
      expect(d.limits.map((l) => l.remaining)).toEqual([1, 1]);
    });

    it("refund gives units back, never above the limit", async () => {
      const store = await factory({});
      const k = key("refund");
      for (const algorithm of ALGORITHMS) {
        const limits = [spec(algorithm, algorithm, 10)];
        await store.consume({ key: k, limits, cost: 7 });
        await store.refund(k, limits, 4);
        expect((await store.consume({ key: k, limits, cost: 0 })).limits[0]?.remaining).toBe(7);
        await store.refund(k, limits, 50);
        expect((await store.consume({ key: k, limits, cost: 0 })).limits[0]?.remaining).toBe(10);
      }
    });

    it("a committed reservation keeps its units, a released one gives them back, once", async () => {
      const store = await factory({});
      const k = key("reserve");
      const limits = [spec("daily", "fixed-window", 10_000)];
      const held = await store.consume({
        key: k,
        limits,
        cost: 2_500,
        reservation: { id: "r1", ttlMs: 60_000 },
      });
      expect(held.limits[0]?.remaining).toBe(7_500);
      await store.consume({ key: k, limits, cost: 1_000, reservation: { id: "r2", ttlMs: 60_000 } });
      expect(await store.settle(k, limits, "r1", "commit")).toBe(true);
      expect(await store.settle(k, limits, "r1", "commit")).toBe(false);
      expect(await store.settle(k, limits, "r2", "release")).toBe(true);
      expect(await store.settle(k, limits, "r2", "release")).toBe(false);
      expect(await store.settle(k, limits, "unknown", "release")).toBe(false);
      expect((await store.consume({ key: k, limits, cost: 0 })).limits[0]?.remaining).toBe(7_500);
    });

    it("a denied check records no reservation", async () => {
      const store = await factory({});
      const k = key("reserve-denied");
      const limits = [spec("a", "fixed-window", 1)];
      await store.consume({ key: k, limits, cost: 1 });
      const d = await store.consume({ key: k, limits, cost: 1, reservation: { id: "r", ttlMs: 60_000 } });
      expect(d.allowed).toBe(false);
      expect(await store.settle(k, limits, "r", "release")).toBe(false);
      expect((await store.consume({ key: k, limits, cost: 0 })).limits[0]?.remaining).toBe(0);
    });

    it("concurrency leases: at most `limit` held; release frees a slot; unknown leases answer false", async () => {
      const store = await factory({});
      const k = key("lease");
      expect(await store.acquire(k, "a", 2, 60_000)).toEqual({ acquired: true, held: 1, retryAfterMs: 0 });
      expect(await store.acquire(k, "a", 2, 60_000)).toEqual({ acquired: true, held: 1, retryAfterMs: 0 });
      expect(await store.acquire(k, "b", 2, 60_000)).toEqual({ acquired: true, held: 2, retryAfterMs: 0 });
      const full = await store.acquire(k, "c", 2, 60_000);
      expect(full.acquired).toBe(false);
      expect(full.held).toBe(2);
      expect(full.retryAfterMs).toBeGreaterThan(55_000);
      expect(full.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(await store.extend(k, "a", 120_000)).toBe(true);
      expect(await store.extend(k, "zz", 120_000)).toBe(false);
      expect(await store.release(k, "a")).toBe(true);
      expect(await store.release(k, "a")).toBe(false);
      expect(await store.release(k, "never")).toBe(false);
      expect((await store.acquire(k, "c", 2, 60_000)).acquired).toBe(true);
    });

    it("concurrent lease acquisitions never hold more than the limit", async () => {
      const store = await factory({});
      const k = key("lease-race");
      const got = await Promise.all(
        Array.from({ length: 30 }, (_, i) => store.acquire(k, `l${i}`, 3, 60_000)),
      );
      expect(got.filter((g) => g.acquired)).toHaveLength(3);
    });
  });

  describe(`${name} store contract: injected time`, () => {
    for (const algorithm of ALGORITHMS) {
      it(`${algorithm}: admits again once the window has passed in store time`, async () => {
        const clock = manualClock(Date.UTC(2026, 0, 1, 0, 0, 0, 250));
        const store = await factory({ clock });
        const k = key(`refill-${algorithm}`);
        const limits = [spec("a", algorithm, 4, 1_000)];
        await store.consume({ key: k, limits, cost: 4 });
        const denied = await store.consume({ key: k, limits, cost: 1 });
        expect(denied.allowed).toBe(false);
        clock.advance(denied.limits[0]!.retryAfterMs - 1);
        expect((await store.consume({ key: k, limits, cost: 1 })).allowed).toBe(false);
        clock.advance(1);
        expect((await store.consume({ key: k, limits, cost: 1 })).allowed).toBe(true);
        clock.advance(5_000);
        expect((await store.consume({ key: k, limits, cost: 0 })).limits[0]?.remaining).toBe(4);
      });
    }

    it("an unsettled reservation is refunded by the first operation after it expires", async () => {
      const clock = manualClock();
      const store = await factory({ clock });
      const k = key("expire");
      const limits = [spec("daily", "fixed-window", 100)];
      await store.consume({ key: k, limits, cost: 30, reservation: { id: "r", ttlMs: 5_000 } });
      clock.advance(4_999);
      expect((await store.consume({ key: k, limits, cost: 0 })).limits[0]?.remaining).toBe(70);
      clock.advance(1);
      expect((await store.consume({ key: k, limits, cost: 0 })).limits[0]?.remaining).toBe(100);
      expect(await store.settle(k, limits, "r", "commit")).toBe(false);
      expect((await store.consume({ key: k, limits, cost: 0 })).limits[0]?.remaining).toBe(100);
    });

    it("settling an expired reservation answers false and refunds it exactly once", async () => {
      const clock = manualClock();
      const store = await factory({ clock });
      const k = key("expire-settle");
      const limits = [spec("a", "token-bucket", 10, DAY_MS)];
      await store.consume({ key: k, limits, cost: 6, reservation: { id: "r", ttlMs: 1_000 } });
      clock.advance(1_000);
      expect(await store.settle(k, limits, "r", "release")).toBe(false);
      expect(await store.settle(k, limits, "r", "release")).toBe(false);
      expect((await store.consume({ key: k, limits, cost: 0 })).limits[0]?.remaining).toBe(10);
    });

    it("a block ends at its time", async () => {
      const clock = manualClock();
      const store = await factory({ clock });
      const k = key("block-end");
      const limits = [spec("a", "gcra", 2, 1_000)];
      await store.block(k, 30_000);
      clock.advance(29_999);
      const d = await store.consume({ key: k, limits, cost: 1 });
      expect(d.allowed).toBe(false);
      expect(d.blockedUntilMs).toBe(clock.now() + 1);
      clock.advance(1);
      expect((await store.consume({ key: k, limits, cost: 1 })).allowed).toBe(true);
    });

    it("a lease whose holder never releases it frees its slot after leaseMs", async () => {
      const clock = manualClock();
      const store = await factory({ clock });
      const k = key("lease-expire");
      expect((await store.acquire(k, "crashed", 1, 10_000)).acquired).toBe(true);
      clock.advance(4_000);
      expect(await store.acquire(k, "next", 1, 10_000)).toEqual({
        acquired: false,
        held: 1,
        retryAfterMs: 6_000,
      });
      clock.advance(6_000);
      expect(await store.extend(k, "crashed", 10_000)).toBe(false);
      expect(await store.release(k, "crashed")).toBe(false);
      expect(await store.acquire(k, "next", 1, 10_000)).toEqual({ acquired: true, held: 1, retryAfterMs: 0 });
    });

    it("a state written under another algorithm or window counts as fresh", async () => {
      const clock = manualClock();
      const store = await factory({ clock });
      const k = key("reconfigured");
      await store.consume({ key: k, limits: [spec("a", "fixed-window", 5, 60_000)], cost: 5 });
      const other = await store.consume({ key: k, limits: [spec("a", "gcra", 5, 60_000)], cost: 1 });
      expect(other.limits[0]?.remaining).toBe(4);
      const wider = await store.consume({ key: k, limits: [spec("a", "gcra", 5, 120_000)], cost: 1 });
      expect(wider.limits[0]?.remaining).toBe(4);
    });

    it("answers and stores exactly what the reference computes on dense sequences of one limit", async () => {
      // One limit, small steps well inside its window: every step reads a live state, so fractional
      // refills, emission intervals and window weights are exercised on every check.
      const scenario = fc
        .record({
          start: fc.integer({ min: 0, max: 10_000_000 }),
          algorithm: fc.constantFrom(...ALGORITHMS),
          limit: fc.integer({ min: 2, max: 40 }),
          windowMs: fc.integer({ min: 50, max: 20_000 }),
          steps: fc.array(
            fc.record({
              advance: fc.double({ min: 0, max: 0.15, noNaN: true }),
              cost: fc.integer({ min: 0, max: 3 }),
            }),
            {
              minLength: 5,
              maxLength: 40,
            },
          ),
        })
        .map(({ steps, windowMs, ...rest }) => ({
          ...rest,
          windowMs,
          steps: steps.map((st) => ({ cost: st.cost, advance: Math.floor(st.advance * windowMs) })),
        }));
      await fc.assert(
        fc.asyncProperty(scenario, async ({ start, algorithm, limit, windowMs, steps }) => {
          const clock = manualClock(Date.UTC(2026, 0, 1) + start);
          const store = await factory({ clock });
          const reference = referenceStore(clock);
          const k = key("dense");
          const limits = [spec("d", algorithm, limit, windowMs)];
          for (const st of steps) {
            clock.advance(st.advance);
            const request = { key: k, limits, cost: st.cost };
            expect(plain(await store.consume(request))).toEqual(plain(await reference.consume(request)));
            if (options.inspect !== undefined) {
              expect(live(await options.inspect(k, limits[0]!), limits[0]!, clock.now())).toEqual(
                live(reference.inspect(k, limits[0]!), limits[0]!, clock.now()),
              );
            }
          }
        }),
        { numRuns: runs },
      );
    });

    it("answers exactly like the reference on random sequences of costs, time, refunds and reservations", async () => {
      const algorithm = fc.constantFrom(...ALGORITHMS);
      const limitsArb = fc
        .array(fc.record({ algorithm, limit: fc.integer({ min: 1, max: 12 }), windowMs: windowArb() }), {
          minLength: 1,
          maxLength: 3,
        })
        .map((list) => list.map((l, i) => spec(`l${i}`, l.algorithm, l.limit, l.windowMs)));
      // Mostly small steps, so states stay alive and fractional refills accumulate; sometimes long
      // ones, so windows roll over and states expire.
      const advance = fc.oneof(
        { weight: 2, arbitrary: fc.constant(0) },
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 60 }) },
        { weight: 4, arbitrary: fc.integer({ min: 0, max: 700 }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 8_000 }) },
      );
      const op = fc.oneof(
        {
          weight: 8,
          arbitrary: fc.record({
            kind: fc.constant("consume" as const),
            advance,
            cost: fc.integer({ min: 0, max: 4 }),
            reserveMs: fc.option(fc.integer({ min: 1, max: 3_000 })),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant("refund" as const),
            advance,
            amount: fc.integer({ min: 1, max: 3 }),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            kind: fc.constant("settle" as const),
            advance,
            pick: fc.nat(),
            release: fc.boolean(),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant("block" as const),
            advance,
            ms: fc.integer({ min: 1, max: 3_000 }),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            kind: fc.constant("lease" as const),
            advance,
            pick: fc.integer({ min: 0, max: 3 }),
            action: fc.constantFrom("acquire", "release", "extend"),
            ms: fc.integer({ min: 1, max: 3_000 }),
          }),
        },
      );
      const scenario = fc.record({
        start: fc.integer({ min: 0, max: 10_000_000 }),
        limits: limitsArb,
        ops: fc.array(op, { minLength: 1, maxLength: 40 }),
      });

      await fc.assert(
        fc.asyncProperty(scenario, async ({ start, limits, ops }) => {
          const clock = manualClock(Date.UTC(2026, 0, 1) + start);
          const store = await factory({ clock });
          const reference = referenceStore(clock);
          const k = key("differential");
          const ids: string[] = [];
          const inspect = options.inspect;
          const sameStates = async () => {
            if (inspect === undefined) return;
            for (const l of limits) {
              expect(live(await inspect(k, l), l, clock.now())).toEqual(
                live(reference.inspect(k, l), l, clock.now()),
              );
            }
          };
          for (const o of ops) {
            clock.advance(o.advance);
            if (o.kind === "consume") {
              const id = `r${ids.length}`;
              const request = {
                key: k,
                limits,
                cost: o.cost,
                ...(o.reserveMs === null ? {} : { reservation: { id, ttlMs: o.reserveMs } }),
              };
              if (o.reserveMs !== null) ids.push(id);
              expect(plain(await store.consume(request))).toEqual(plain(await reference.consume(request)));
            } else if (o.kind === "refund") {
              await store.refund(k, limits, o.amount);
              await reference.refund(k, limits, o.amount);
            } else if (o.kind === "settle") {
              const id = ids.length === 0 ? "none" : ids[o.pick % ids.length]!;
              const action = o.release ? "release" : "commit";
              expect(await store.settle(k, limits, id, action)).toBe(
                await reference.settle(k, limits, id, action),
              );
            } else if (o.kind === "block") {
              await store.block(k, o.ms);
              await reference.block(k, o.ms);
            } else {
              const id = `lease${o.pick}`;
              if (o.action === "acquire") {
                expect(await store.acquire(k, id, 2, o.ms)).toEqual(await reference.acquire(k, id, 2, o.ms));
              } else if (o.action === "release") {
                expect(await store.release(k, id)).toBe(await reference.release(k, id));
              } else {
                expect(await store.extend(k, id, o.ms)).toBe(await reference.extend(k, id, o.ms));
              }
            }
            await sameStates();
          }
          const peek = { key: k, limits, cost: 0 };
          expect(plain(await store.consume(peek))).toEqual(plain(await reference.consume(peek)));
        }),
        { numRuns: runs },
      );
    });
  });
}

/** Windows that exercise fractional emission intervals and refill rates, and day-long windows. */
function windowArb() {
  return fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 200 }) },
    { weight: 4, arbitrary: fc.integer({ min: 200, max: 5_000 }) },
    { weight: 1, arbitrary: fc.constantFrom(1_000, 60_000, DAY_MS) },
  );
}
