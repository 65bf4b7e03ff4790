import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AlgorithmState, evaluate, evaluateCheck, refund } from "./algorithms.js";
import type { Algorithm, LimitSpec } from "./types.js";

/** 2026-01-01T00:00:00Z: aligned to every window used below. */
const T0 = Date.UTC(2026, 0, 1);

const spec = (algorithm: Algorithm, limit: number, windowMs: number): LimitSpec => ({
  name: "l",
  algorithm,
  limit,
  windowMs,
});

/** Runs checks in order, keeping the state only when admitted (what a store does). */
function run(s: LimitSpec, steps: Array<[atMs: number, cost: number]>, start?: AlgorithmState) {
  let state = start;
  return steps.map(([at, cost]) => {
    const e = evaluate(s, state, T0 + at, cost);
    if (e.admits) state = e.next;
    return { ...e, state };
  });
}

describe("fixed-window", () => {
  const s = spec("fixed-window", 3, 1000);

  it("counts per aligned window and reports exact remaining, reset and retry", () => {
    const [a, b, c, d] = run(s, [
      [250, 1],
      [400, 2],
      [999, 1],
      [1000, 1],
    ]);
    expect(a).toMatchObject({ admits: true, next: [T0, 1], ttlMs: 750 });
    expect(a?.report).toEqual({ remaining: 2, resetMs: 750, retryAfterMs: 0 });
    expect(b?.report).toEqual({ remaining: 0, resetMs: 600, retryAfterMs: 0 });
    expect(c?.admits).toBe(false);
    expect(c?.report).toEqual({ remaining: 0, resetMs: 1, retryAfterMs: 1 });
    expect(d).toMatchObject({ admits: true, next: [T0 + 1000, 1] });
    expect(d?.report).toEqual({ remaining: 2, resetMs: 1000, retryAfterMs: 0 });
  });

  it("peeks with cost 0 without changing the count", () => {
    const e = evaluate(s, [T0, 3], T0 + 10, 0);
    expect(e).toEqual({
      admits: true,
      next: [T0, 3],
      ttlMs: 990,
      report: { remaining: 0, resetMs: 990, retryAfterMs: 0 },
    });
  });

  it("ignores a state from an earlier window", () => {
    expect(evaluate(s, [T0 - 1000, 3], T0, 3).report).toEqual({
      remaining: 0,
      resetMs: 1000,
      retryAfterMs: 0,
    });
  });
});

describe("sliding-window", () => {
  it("weights the previous window by the part still inside the sliding window", () => {
    const s = spec("sliding-window", 10, 1000);
    // 6 in the previous window, 250 ms into this one: 6·750 + 1·1000 = 5500 ≤ 10000.
    const e = evaluate(s, [T0, 6, 0], T0 + 1250, 1);
    expect(e).toEqual({
      admits: true,
      next: [T0 + 1000, 1, 6],
      ttlMs: 1750,
      report: { remaining: 4, resetMs: 1750, retryAfterMs: 0 },
    });
  });

  it("waits inside the window while the previous window's weight decays", () => {
    const s = spec("sliding-window", 10, 1000);
    // 10·800 + 5·1000 = 13000 > 10000; admitted at elapsed 500: 10·500 + 5000 = 10000.
    const e = evaluate(s, [T0 + 1000, 4, 10], T0 + 1200, 1);
    expect(e.admits).toBe(false);
    expect(e.report).toEqual({ remaining: 0, resetMs: 1800, retryAfterMs: 300 });
    expect(evaluate(s, [T0 + 1000, 4, 10], T0 + 1499, 1).admits).toBe(false);
    expect(evaluate(s, [T0 + 1000, 4, 10], T0 + 1500, 1).admits).toBe(true);
  });

  it("rounds a fractional wait up to the first admitting millisecond", () => {
    const s = spec("sliding-window", 5, 1000);
    // 3·900 + 3·1000 = 5700 > 5000; need 3·(1000 − e) ≤ 2000 → e ≥ 333.3 → 334.
    const e = evaluate(s, [T0 + 1000, 2, 3], T0 + 1100, 1);
    expect(e.report).toEqual({ remaining: 0, resetMs: 1900, retryAfterMs: 234 });
    expect(evaluate(s, [T0 + 1000, 2, 3], T0 + 1333, 1).admits).toBe(false);
    expect(evaluate(s, [T0 + 1000, 2, 3], T0 + 1334, 1).admits).toBe(true);
  });

  it("waits for the next window when the current window alone is full", () => {
    const s = spec("sliding-window", 10, 1000);
    // Next window: 10·(1000 − e) + 1000 ≤ 10000 → e ≥ 100; 700 + 100 = 800.
    const e = evaluate(s, [T0 + 1000, 10, 3], T0 + 1300, 1);
    expect(e.report).toEqual({ remaining: 0, resetMs: 1700, retryAfterMs: 800 });
    expect(evaluate(s, [T0 + 1000, 10, 3], T0 + 2099, 1).admits).toBe(false);
    expect(evaluate(s, [T0 + 1000, 10, 3], T0 + 2100, 1).admits).toBe(true);
  });

  it("reports a reset of one window when only the previous window holds units", () => {
    const s = spec("sliding-window", 10, 1000);
    expect(evaluate(s, [T0, 4, 0], T0 + 1400, 0).report).toEqual({
      remaining: 7,
      resetMs: 600,
      retryAfterMs: 0,
    });
  });
});

describe("token-bucket", () => {
  it("refills continuously and reports the wait for the missing tokens", () => {
    const s = spec("token-bucket", 10, 1000); // one token per 100 ms
    const [a, b, c] = run(s, [
      [0, 4],
      [50, 7],
      [100, 7],
    ]);
    expect(a).toMatchObject({ admits: true, next: [6, T0], ttlMs: 400 });
    expect(a?.report).toEqual({ remaining: 6, resetMs: 400, retryAfterMs: 0 });
    expect(b?.admits).toBe(false); // 6.5 tokens
    expect(b?.report).toEqual({ remaining: 6, resetMs: 350, retryAfterMs: 50 });
    expect(c?.admits).toBe(true); // 7 tokens
    expect(c?.report).toEqual({ remaining: 0, resetMs: 1000, retryAfterMs: 0 });
  });

  it("is exact when the refill rate is not a whole number per millisecond", () => {
    const s = spec("token-bucket", 3, 1000); // one token per 333.3 ms
    const [, b] = run(s, [
      [0, 3],
      [200, 1],
    ]);
    expect(b?.report).toEqual({ remaining: 0, resetMs: 800, retryAfterMs: 134 });
    expect(evaluate(s, [0, T0], T0 + 333, 1).admits).toBe(false);
    expect(evaluate(s, [0, T0], T0 + 334, 1).admits).toBe(true);
  });

  it("never holds more than its capacity", () => {
    const s = spec("token-bucket", 5, 1000);
    expect(evaluate(s, [2, T0], T0 + 10_000, 0).report.remaining).toBe(5);
  });
});

describe("gcra", () => {
  it("admits a burst of `limit`, then one unit per emission interval", () => {
    const s = spec("gcra", 10, 1000); // T = 100 ms
    const first = evaluate(s, undefined, T0, 1);
    expect(first).toEqual({
      admits: true,
      next: [T0 + 100],
      ttlMs: 100,
      report: { remaining: 9, resetMs: 100, retryAfterMs: 0 },
    });
    const steps = run(
      s,
      Array.from({ length: 11 }, () => [0, 1] as [number, number]),
    );
    expect(steps.filter((x) => x.admits)).toHaveLength(10);
    expect(steps[10]?.report).toEqual({ remaining: 0, resetMs: 1000, retryAfterMs: 100 });
  });

  it("admits the whole burst when the emission interval is fractional (7 per second)", () => {
    const s = spec("gcra", 7, 1000); // T = 142.857… ms
    const steps = run(
      s,
      Array.from({ length: 8 }, () => [0, 1] as [number, number]),
    );
    expect(steps.filter((x) => x.admits)).toHaveLength(7);
    // The 8th fits once tat − now ≤ W − T: 1000 − 1000/7 = 857.14… → 142.86 ms → 143.
    expect(steps[7]?.report).toEqual({ remaining: 0, resetMs: 1000, retryAfterMs: 143 });
    const full = steps[6]?.state;
    expect(evaluate(s, full, T0 + 142, 1).admits).toBe(false);
    const at143 = evaluate(s, full, T0 + 143, 1);
    expect(at143.admits).toBe(true);
    expect(at143.report).toEqual({ remaining: 0, resetMs: 1000, retryAfterMs: 0 });
  });

  it("counts a cost as that many emission intervals", () => {
    const s = spec("gcra", 10, 1000);
    const e = evaluate(s, undefined, T0, 4);
    expect(e.next).toEqual([T0 + 400]);
    expect(e.report).toEqual({ remaining: 6, resetMs: 400, retryAfterMs: 0 });
    // 100 ms later: tat − now = 300, plus 7·100 = 1000 ≤ W: admitted, nothing left.
    expect(evaluate(s, e.next, T0 + 100, 7).report).toEqual({ remaining: 0, resetMs: 1000, retryAfterMs: 0 });
    expect(evaluate(s, e.next, T0 + 50, 7).admits).toBe(false);
  });
});

describe("refund", () => {
  it("fixed-window gives units back in the current window only", () => {
    const s = spec("fixed-window", 5, 1000);
    expect(refund(s, [T0, 4], T0 + 10, 3)).toEqual({ next: [T0, 1], ttlMs: 990 });
    expect(refund(s, [T0, 4], T0 + 10, 9)).toEqual({ next: [T0, 0], ttlMs: 990 });
    expect(refund(s, [T0 - 1000, 4], T0 + 10, 3)).toBeUndefined();
    // A reservation taken in the previous window: its units are no longer counted.
    expect(refund(s, [T0, 4], T0 + 10, 3, T0 - 5)).toBeUndefined();
    expect(refund(s, [T0, 4], T0 + 10, 3, T0 + 5)).toEqual({ next: [T0, 1], ttlMs: 990 });
  });

  it("sliding-window refunds the window the units were counted in", () => {
    const s = spec("sliding-window", 10, 1000);
    // Unknown origin: current window first, then the previous one.
    expect(refund(s, [T0 + 1000, 2, 8], T0 + 1100, 5)).toEqual({ next: [T0 + 1000, 0, 5], ttlMs: 1900 });
    // Taken in the previous window: only that window's count drops.
    expect(refund(s, [T0 + 1000, 2, 8], T0 + 1100, 5, T0 + 500)).toEqual({
      next: [T0 + 1000, 2, 3],
      ttlMs: 1900,
    });
    // State still from the previous window.
    expect(refund(s, [T0, 8, 0], T0 + 1100, 5, T0 + 500)).toEqual({ next: [T0 + 1000, 0, 3], ttlMs: 1900 });
    // Taken two windows ago: slid out, nothing to give back.
    expect(refund(s, [T0 + 1000, 2, 8], T0 + 1100, 5, T0 - 500)).toBeUndefined();
  });

  it("token-bucket refills by the amount, capped at capacity", () => {
    const s = spec("token-bucket", 10, 1000);
    expect(refund(s, [2, T0], T0 + 100, 3)).toEqual({ next: [6, T0 + 100], ttlMs: 400 });
    expect(refund(s, [9, T0], T0, 5)).toEqual({ next: [10, T0], ttlMs: 0 });
  });

  it("gcra moves the arrival time back, never before now", () => {
    const s = spec("gcra", 10, 1000);
    expect(refund(s, [T0 + 700], T0 + 100, 2)).toEqual({ next: [T0 + 500], ttlMs: 400 });
    expect(refund(s, [T0 + 300], T0 + 100, 5)).toEqual({ next: [T0 + 100], ttlMs: 0 });
  });

  it("returns undefined for a key with no state", () => {
    expect(refund(spec("gcra", 1, 1000), undefined, T0, 1)).toBeUndefined();
  });
});

describe("evaluateCheck", () => {
  const burst = spec("gcra", 5, 1000);
  const minute = spec("fixed-window", 2, 60_000);

  it("admits only when every limit admits, and then reports each after consumption", () => {
    const e = evaluateCheck([burst, minute], [undefined, undefined], T0, 1);
    expect(e.admits).toBe(true);
    expect(e.reports).toEqual([
      { remaining: 4, resetMs: 200, retryAfterMs: 0 },
      { remaining: 1, resetMs: 60_000, retryAfterMs: 0 },
    ]);
  });

  it("when one limit denies, every limit reports its state as it stands", () => {
    const e = evaluateCheck([burst, minute], [[T0 + 400], [T0, 2]], T0, 1);
    expect(e.admits).toBe(false);
    expect(e.reports).toEqual([
      { remaining: 3, resetMs: 400, retryAfterMs: 0 },
      { remaining: 0, resetMs: 60_000, retryAfterMs: 60_000 },
    ]);
  });

  it("a blocked key is denied whatever the limits say, and nothing is reported as consumed", () => {
    const e = evaluateCheck([burst], [undefined], T0, 2, true);
    expect(e.admits).toBe(false);
    expect(e.reports).toEqual([{ remaining: 5, resetMs: 0, retryAfterMs: 0 }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties, on a simulated clock.

const algorithms: Algorithm[] = ["fixed-window", "sliding-window", "token-bucket", "gcra"];

const arbSpec = fc.record({
  algorithm: fc.constantFrom(...algorithms),
  limit: fc.integer({ min: 1, max: 12 }),
  windowMs: fc.oneof(fc.constantFrom(1000, 997, 7, 60_000, 3), fc.integer({ min: 1, max: 5000 })),
});

const arbScenario = arbSpec.chain((s) =>
  fc.record({
    spec: fc.constant(spec(s.algorithm, s.limit, s.windowMs)),
    startOffset: fc.integer({ min: 0, max: 2 * s.windowMs }),
    ops: fc.array(
      fc.record({
        dt: fc.oneof(
          fc.constant(0),
          fc.integer({ min: 0, max: Math.max(1, Math.ceil(s.windowMs / s.limit)) }),
          fc.integer({ min: 0, max: 2 * s.windowMs }),
        ),
        cost: fc.integer({ min: 1, max: s.limit }),
      }),
      { minLength: 1, maxLength: 120 },
    ),
  }),
);

interface Admission {
  at: number;
  cost: number;
}

function simulate(s: LimitSpec, startOffset: number, ops: Array<{ dt: number; cost: number }>) {
  let now = T0 + startOffset;
  let state: AlgorithmState | undefined;
  const admitted: Admission[] = [];
  const trace: Array<{ now: number; cost: number; before: AlgorithmState | undefined; admits: boolean }> = [];
  for (const op of ops) {
    now += op.dt;
    const e = evaluate(s, state, now, op.cost);
    trace.push({ now, cost: op.cost, before: state, admits: e.admits });
    if (e.admits) {
      state = e.next;
      admitted.push({ at: now, cost: op.cost });
    }
  }
  return { admitted, trace, state, now };
}

const windowOf = (at: number, W: number) => at - (at % W);

describe("properties", () => {
  it("fixed and sliding windows never admit more than the limit in an aligned window", () => {
    fc.assert(
      fc.property(arbScenario, ({ spec: s, startOffset, ops }) => {
        fc.pre(s.algorithm === "fixed-window" || s.algorithm === "sliding-window");
        const { admitted } = simulate(s, startOffset, ops);
        const perWindow = new Map<number, number>();
        for (const a of admitted) {
          const w = windowOf(a.at, s.windowMs);
          perWindow.set(w, (perWindow.get(w) ?? 0) + a.cost);
        }
        for (const total of perWindow.values()) expect(total).toBeLessThanOrEqual(s.limit);
      }),
      { numRuns: 400 },
    );
  });

  it("sliding window: the weighted estimate never exceeds the limit at an admission", () => {
    fc.assert(
      fc.property(arbScenario, ({ spec: s, startOffset, ops }) => {
        fc.pre(s.algorithm === "sliding-window");
        const W = s.windowMs;
        const { admitted } = simulate(s, startOffset, ops);
        admitted.forEach((a, i) => {
          const start = windowOf(a.at, W);
          let cur = 0;
          let prev = 0;
          for (const b of admitted.slice(0, i + 1)) {
            const bw = windowOf(b.at, W);
            if (bw === start) cur += b.cost;
            else if (bw === start - W) prev += b.cost;
          }
          // prev·(W − elapsed)/W + cur ≤ limit, in integers.
          expect(prev * (W - (a.at - start)) + cur * W).toBeLessThanOrEqual(s.limit * W);
        });
      }),
      { numRuns: 400 },
    );
  });

  it("token bucket and GCRA admit at most limit + t·limit/W in any interval of length t", () => {
    fc.assert(
      fc.property(arbScenario, ({ spec: s, startOffset, ops }) => {
        fc.pre(s.algorithm === "token-bucket" || s.algorithm === "gcra");
        const { admitted } = simulate(s, startOffset, ops);
        for (let i = 0; i < admitted.length; i++) {
          let sum = 0;
          for (let j = i; j < admitted.length; j++) {
            sum += (admitted[j] as Admission).cost;
            const t = (admitted[j] as Admission).at - (admitted[i] as Admission).at;
            // sum ≤ L + t·L/W  ⇔  sum·W ≤ L·W + t·L
            expect(sum * s.windowMs).toBeLessThanOrEqual(s.limit * s.windowMs + t * s.limit);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it("a denied check leaves a state that answers exactly like the one before it", () => {
    fc.assert(
      fc.property(
        arbScenario,
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 12 }),
        ({ spec: s, startOffset, ops }, laterMs, laterCost) => {
          const { trace } = simulate(s, startOffset, ops);
          for (const step of trace) {
            if (step.admits) continue;
            const denied = evaluate(s, step.before, step.now, step.cost);
            const later = step.now + laterMs;
            const cost = Math.min(laterCost, s.limit);
            expect(evaluate(s, denied.next, later, cost)).toEqual(evaluate(s, step.before, later, cost));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("retryAfterMs is the exact first millisecond the same check is admitted", () => {
    fc.assert(
      fc.property(arbScenario, ({ spec: s, startOffset, ops }) => {
        const { trace } = simulate(s, startOffset, ops);
        for (const step of trace) {
          if (step.admits) continue;
          const wait = evaluate(s, step.before, step.now, step.cost).report.retryAfterMs;
          expect(wait).toBeGreaterThanOrEqual(1);
          expect(evaluate(s, step.before, step.now + wait, step.cost).admits).toBe(true);
          expect(evaluate(s, step.before, step.now + wait - 1, step.cost).admits).toBe(false);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("remaining is exactly the largest cost that would be admitted next", () => {
    fc.assert(
      fc.property(arbScenario, ({ spec: s, startOffset, ops }) => {
        let now = T0 + startOffset;
        let state: AlgorithmState | undefined;
        for (const op of ops) {
          now += op.dt;
          const e = evaluate(s, state, now, op.cost);
          if (e.admits) state = e.next;
          const remaining = e.report.remaining;
          if (remaining > 0) expect(evaluate(s, state, now, remaining).admits).toBe(true);
          expect(evaluate(s, state, now, remaining + 1).admits).toBe(false);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("after resetMs the limit is fully replenished", () => {
    fc.assert(
      fc.property(arbScenario, ({ spec: s, startOffset, ops }) => {
        const { state, now } = simulate(s, startOffset, ops);
        const reset = evaluate(s, state, now, 0).report.resetMs;
        expect(evaluate(s, state, now + reset, 0).report.remaining).toBe(s.limit);
      }),
      { numRuns: 400 },
    );
  });

  it("a state kept for ttlMs and then dropped answers like a fresh key", () => {
    fc.assert(
      fc.property(arbScenario, fc.integer({ min: 1, max: 12 }), ({ spec: s, startOffset, ops }, c) => {
        const { trace, state, now } = simulate(s, startOffset, ops);
        fc.pre(trace.length > 0);
        const ttl = evaluate(s, state, now, 0).ttlMs;
        const cost = Math.min(c, s.limit);
        const at = now + ttl;
        expect(evaluate(s, state, at, cost).report).toEqual(evaluate(s, undefined, at, cost).report);
      }),
      { numRuns: 400 },
    );
  });

  it("refunding what a reservation took never frees more than was taken", () => {
    fc.assert(
      fc.property(arbScenario, fc.integer({ min: 0, max: 3000 }), ({ spec: s, startOffset, ops }, holdMs) => {
        // Take `cost` at `now`, run more checks, give it back later: the limit admits no more
        // afterwards than if the reservation had never happened.
        const { state, now } = simulate(s, startOffset, ops);
        const take = evaluate(s, state, now, 1);
        fc.pre(take.admits);
        const later = now + holdMs;
        const back = refund(s, take.next, later, 1, now);
        const withRefund = back === undefined ? take.next : back.next;
        const without = state;
        for (let cost = 1; cost <= s.limit; cost++) {
          if (evaluate(s, withRefund, later, cost).admits) {
            expect(evaluate(s, without, later, cost).admits).toBe(true);
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});
