import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { manualClock } from "../../core/clock.js";
import { isBulwarkError } from "../../core/errors.js";
import { type AlgorithmState, evaluateCheck, refund } from "../../ratelimit/algorithms.js";
import { describeRateLimitStoreContract } from "../../ratelimit/store-contract.js";
import type { Algorithm, LimitSpec } from "../../ratelimit/types.js";
import { describeRateLimitStoreContract as describeSharedStoreContract } from "../store-contract.js";
import { memoryStore } from "./index.js";
import { memoryCoreOf } from "./store.js";

const fw = (name: string, limit: number, windowMs: number): LimitSpec => ({
  name,
  algorithm: "fixed-window",
  limit,
  windowMs,
});

describeRateLimitStoreContract(
  "memory",
  async (clock) => {
    const store = memoryStore({ clock });
    return { store, cleanup: () => store.close?.() ?? Promise.resolve() };
  },
  { manualClock: true, concurrency: true },
);

// The contract the Redis and Postgres stores answer to, including the differential test against the
// scaled reference: the memory store is where that reference's semantics come from.
describeSharedStoreContract(
  "memory (shared store contract)",
  ({ clock }) => memoryStore(clock === undefined ? {} : { clock }),
  {
    runs: 100,
  },
);

describe("memoryStore", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers like the reference arithmetic for random multi-limit, multi-key traffic", async () => {
    const algorithms: Algorithm[] = ["fixed-window", "sliding-window", "token-bucket", "gcra"];
    const arbLimits = fc.uniqueArray(
      fc.record({
        name: fc.constantFrom("a", "b", "c", "d"),
        algorithm: fc.constantFrom(...algorithms),
        limit: fc.integer({ min: 1, max: 8 }),
        windowMs: fc.integer({ min: 1, max: 3000 }),
      }),
      { minLength: 1, maxLength: 3, selector: (l) => l.name },
    );
    const arbOps = fc.array(
      fc.record({
        key: fc.constantFrom("k1", "k2", "k3"),
        dt: fc.integer({ min: 0, max: 1500 }),
        cost: fc.integer({ min: 0, max: 4 }),
        refund: fc.integer({ min: 0, max: 3 }),
      }),
      { minLength: 1, maxLength: 80 },
    );
    await fc.assert(
      fc.asyncProperty(arbLimits, arbOps, async (limits, ops) => {
        const clock = manualClock();
        const store = memoryStore({ clock });
        const model = new Map<string, Array<AlgorithmState | undefined>>();
        for (const op of ops) {
          clock.advance(op.dt);
          const now = clock.now();
          const states = model.get(op.key) ?? limits.map(() => undefined);
          if (op.refund > 0 && op.cost === 0) {
            await store.refund(op.key, limits, op.refund);
            model.set(
              op.key,
              states.map((s, i) => refund(limits[i] as LimitSpec, s, now, op.refund)?.next ?? s),
            );
            continue;
          }
          const expected = evaluateCheck(limits, states, now, op.cost);
          const d = await store.consume({ key: op.key, limits, cost: op.cost });
          expect(d.allowed).toBe(expected.admits);
          expect(d.nowMs).toBe(now);
          expect(d.limits).toEqual(expected.reports);
          if (expected.admits && op.cost > 0) model.set(op.key, [...expected.next]);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("a denied check leaves every limit exactly as it was", async () => {
    const clock = manualClock();
    const store = memoryStore({ clock });
    const limits: LimitSpec[] = [
      { name: "a", algorithm: "token-bucket", limit: 5, windowMs: 1000 },
      { name: "b", algorithm: "sliding-window", limit: 3, windowMs: 1000 },
    ];
    await store.consume({ key: "k", limits, cost: 3 });
    const before = await store.consume({ key: "k", limits, cost: 0 });
    for (let i = 0; i < 10; i++)
      expect((await store.consume({ key: "k", limits, cost: 1 })).allowed).toBe(false);
    expect(await store.consume({ key: "k", limits, cost: 0 })).toEqual(before);
  });

  it("never holds more than maxKeys and evicts the oldest key not used again", async () => {
    const clock = manualClock();
    const store = memoryStore({ clock, maxKeys: 3 });
    const limits = [fw("a", 5, 60_000)];
    for (const k of ["a", "b", "c"]) await store.consume({ key: k, limits, cost: 2 });
    await store.consume({ key: "a", limits, cost: 1 }); // a is used again: second chance
    await store.consume({ key: "d", limits, cost: 2 });
    expect(store.size).toBe(3);
    const remaining = async (k: string) =>
      (await store.consume({ key: k, limits, cost: 0 })).limits[0]?.remaining;
    expect(await remaining("a")).toBe(2);
    expect(await remaining("b")).toBe(5); // evicted: reads as fresh
    expect(await remaining("c")).toBe(3);
    expect(await remaining("d")).toBe(3);
    await store.consume({ key: "e", limits, cost: 1 });
    expect(await remaining("c")).toBe(5); // next oldest
    expect(store.size).toBe(3);
  });

  it("evicts an expired key before an older live one", async () => {
    const clock = manualClock();
    const store = memoryStore({ clock, maxKeys: 3 });
    const long = [fw("l", 5, 60_000)];
    const short = [fw("s", 5, 1000)];
    await store.consume({ key: "old", limits: long, cost: 1 });
    await store.consume({ key: "brief", limits: short, cost: 1 });
    await store.consume({ key: "other", limits: long, cost: 1 });
    clock.advance(2000);
    await store.consume({ key: "new", limits: long, cost: 1 });
    expect(store.size).toBe(3);
    expect((await store.consume({ key: "old", limits: long, cost: 0 })).limits[0]?.remaining).toBe(4);
  });

  it("keeps memory flat once maxKeys is reached: tables stop growing", async () => {
    const clock = manualClock();
    const store = memoryStore({ clock, maxKeys: 1000 });
    const limits = [fw("a", 5, 60_000)];
    for (let i = 0; i < 10_000; i++) await store.consume({ key: `k${i}`, limits, cost: 1 });
    expect(store.size).toBe(1000);
    const core = memoryCoreOf(store);
    const tables = [...(core?.tables ?? [])];
    expect(tables).toHaveLength(1);
    expect(tables[0]?.capacity).toBe(1000);
    expect(tables[0]?.map.size).toBe(1000);
  });

  it("reclaims expired keys as new ones arrive, without timers", async () => {
    vi.useFakeTimers();
    const clock = manualClock();
    const store = memoryStore({ clock });
    const limits = [fw("a", 5, 1000)];
    for (let i = 0; i < 100; i++) await store.consume({ key: `old${i}`, limits, cost: 1 });
    expect(store.size).toBe(100);
    clock.advance(5000);
    for (let i = 0; i < 100; i++) await store.consume({ key: `new${i}`, limits, cost: 1 });
    expect(store.size).toBe(100);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("does not create state for a peek at an unknown key", async () => {
    const store = memoryStore();
    await store.consume({ key: "ghost", limits: [fw("a", 1, 1000)], cost: 0 });
    expect(store.size).toBe(0);
  });

  it("per-tier limits that differ only in `limit` share one state", async () => {
    const store = memoryStore({ clock: manualClock() });
    await store.consume({ key: "u", limits: [fw("minute", 10, 60_000)], cost: 4 });
    const pro = await store.consume({ key: "u", limits: [fw("minute", 100, 60_000)], cost: 0 });
    expect(pro.limits[0]?.remaining).toBe(96);
  });

  it("rejects a non-string or empty key with ERR_RATELIMIT_INVALID_KEY", async () => {
    const store = memoryStore();
    const limits = [fw("a", 1, 1000)];
    for (const key of ["", 42, undefined, null]) {
      const error = await store.consume({ key: key as string, limits, cost: 1 }).catch((e: unknown) => e);
      expect(isBulwarkError(error, "ERR_RATELIMIT_INVALID_KEY")).toBe(true);
    }
    await expect(store.block("", 1)).rejects.toMatchObject({ code: "ERR_RATELIMIT_INVALID_KEY" });
    await expect(store.acquire("", "l", 1, 1)).rejects.toMatchObject({ code: "ERR_RATELIMIT_INVALID_KEY" });
  });

  it("rejects a request without limits or with more than 8", async () => {
    const store = memoryStore();
    await expect(store.consume({ key: "k", limits: [], cost: 1 })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
    const nine = Array.from({ length: 9 }, (_, i) => fw(`l${i}`, 1, 1000));
    await expect(store.consume({ key: "k", limits: nine, cost: 1 })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
  });

  it("bounds blocks and leases by maxKeys too", async () => {
    const clock = manualClock();
    const store = memoryStore({ clock, maxKeys: 10 });
    for (let i = 0; i < 50; i++) await store.block(`b${i}`, 60_000);
    for (let i = 0; i < 50; i++) await store.acquire(`l${i}`, "x", 1, 60_000);
    const core = memoryCoreOf(store);
    expect(core?.leases.size).toBeLessThanOrEqual(10);
    expect(core?.namespace("").blocked.size).toBeLessThanOrEqual(10);
    // The most recent block is kept.
    expect((await store.consume({ key: "b49", limits: [fw("a", 1, 1000)], cost: 1 })).allowed).toBe(false);
  });

  it("close forgets everything", async () => {
    const store = memoryStore();
    await store.consume({ key: "k", limits: [fw("a", 1, 1000)], cost: 1 });
    await store.close?.();
    expect(store.size).toBe(0);
  });

  describe("options", () => {
    it("refuses maxKeys below 1 or not an integer", () => {
      for (const maxKeys of [0, -1, 1.5, Number.NaN]) {
        expect(() => memoryStore({ maxKeys })).toThrowError(
          expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
        );
      }
    });

    it("refuses an unknown option with a did-you-mean", () => {
      expect(() => memoryStore({ maxkeys: 5 } as never)).toThrowError(/did you mean "maxKeys"/);
    });

    it("refuses a clock without now()", () => {
      expect(() => memoryStore({ clock: {} as never })).toThrowError(
        expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
      );
    });
  });
});
