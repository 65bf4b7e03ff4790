/**
 * The floating-point arithmetic that the Redis (Lua) and Postgres (PL/pgSQL) rate-limit stores
 * implement, kept as their differential-test oracle.
 *
 * Known divergence from `src/ratelimit/algorithms.ts` (which the memory store runs): algorithms.ts
 * computes token bucket and GCRA on integers scaled by gcd(limit, windowMs), refunds only the window
 * the units were taken in, and reports a denied check's admitting limits as a peek. This file still
 * uses plain doubles, so on Redis and Postgres a GCRA or token bucket whose limit does not divide its
 * window evenly (e.g. 7 per second) can admit one unit fewer than its burst. Porting the scaled
 * arithmetic to Lua and SQL removes this file.
 */
import type { LimitSpec, LimitState } from "../ratelimit/types.js";

/**
 * The reference arithmetic of the four algorithms, as pure functions over a small state.
 * The memory store runs these; the Redis (Lua) and Postgres (SQL) stores port them line by line,
 * and the store contract suite holds every port to the same answers.
 *
 * All times are integer milliseconds of the store's clock. A state is `undefined` for a key never
 * seen or fully expired; `ttlMs` says how long a state must be kept (after that it equals undefined).
 *
 * - fixed-window:   at most `limit` units per aligned window `[k·W, (k+1)·W)`.
 * - sliding-window: the current window's count plus the previous window's count weighted by the
 *                   part of it still inside the sliding window; admits while
 *                   `prev·(W − elapsed) + (cur + cost)·W ≤ limit·W` (integers, no rounding drift).
 * - token-bucket:   capacity `limit`, refilled continuously at `limit / W` units per ms.
 * - gcra:           emission interval `T = W / limit`, burst tolerance `W − T`: a full burst of
 *                   `limit`, then one unit every `T`. Same shape as the token bucket, one number of state.
 */

/** fixed-window: [windowStart, count]; sliding-window: [windowStart, count, previousCount];
 * token-bucket: [tokens, updatedAt]; gcra: [theoreticalArrivalTime]. */
export type AlgorithmState = readonly number[];

export interface Evaluation {
  /** Whether `cost` fits now. */
  readonly admits: boolean;
  /** The state to store when the whole check is admitted (cost consumed). */
  readonly next: AlgorithmState;
  /** How long `next` must be kept. */
  readonly ttlMs: number;
  /** What to report: remaining after consumption when admitted, else remaining as is. */
  readonly report: LimitState;
}

/** Evaluates one limit at `now` for `cost` units (cost 0 is a peek). Never mutates `state`. */
export function evaluate(
  spec: LimitSpec,
  state: AlgorithmState | undefined,
  now: number,
  cost: number,
): Evaluation {
  switch (spec.algorithm) {
    case "fixed-window":
      return fixedWindow(spec, state, now, cost);
    case "sliding-window":
      return slidingWindow(spec, state, now, cost);
    case "token-bucket":
      return tokenBucket(spec, state, now, cost);
    case "gcra":
      return gcra(spec, state, now, cost);
  }
}

/** Gives `amount` units back; the result never exceeds a fresh state. Returns the state to store. */
export function refund(
  spec: LimitSpec,
  state: AlgorithmState | undefined,
  now: number,
  amount: number,
): { next: AlgorithmState; ttlMs: number } | undefined {
  if (state === undefined) return undefined;
  const W = spec.windowMs;
  switch (spec.algorithm) {
    case "fixed-window": {
      const start = now - (now % W);
      if (state[0] !== start) return undefined;
      return { next: [start, Math.max(0, (state[1] as number) - amount)], ttlMs: start + W - now };
    }
    case "sliding-window": {
      const start = now - (now % W);
      if (state[0] === start) {
        const cur = state[1] as number;
        const prev = state[2] as number;
        // Refund the current window first, then the previous one.
        const fromCur = Math.min(cur, amount);
        return {
          next: [start, cur - fromCur, Math.max(0, prev - (amount - fromCur))],
          ttlMs: start + 2 * W - now,
        };
      }
      if (state[0] === start - W) {
        return { next: [start, 0, Math.max(0, (state[1] as number) - amount)], ttlMs: start + 2 * W - now };
      }
      return undefined;
    }
    case "token-bucket": {
      const tokens = Math.min(spec.limit, refill(spec, state, now) + amount);
      return { next: [tokens, now], ttlMs: Math.ceil(((spec.limit - tokens) * W) / spec.limit) };
    }
    case "gcra": {
      const T = W / spec.limit;
      const tat = Math.max(now, (state[0] as number) - amount * T);
      return { next: [tat], ttlMs: Math.ceil(tat - now) };
    }
  }
}

function fixedWindow(
  spec: LimitSpec,
  state: AlgorithmState | undefined,
  now: number,
  cost: number,
): Evaluation {
  const W = spec.windowMs;
  const start = now - (now % W);
  const count = state !== undefined && state[0] === start ? (state[1] as number) : 0;
  const resetMs = start + W - now;
  const admits = count + cost <= spec.limit;
  const after = admits ? count + cost : count;
  return {
    admits,
    next: [start, after],
    ttlMs: resetMs,
    report: { remaining: spec.limit - after, resetMs, retryAfterMs: admits ? 0 : resetMs },
  };
}

function slidingWindow(
  spec: LimitSpec,
  state: AlgorithmState | undefined,
  now: number,
  cost: number,
): Evaluation {
  const W = spec.windowMs;
  const start = now - (now % W);
  const elapsed = now - start;
  let cur = 0;
  let prev = 0;
  if (state !== undefined) {
    if (state[0] === start) {
      cur = state[1] as number;
      prev = state[2] as number;
    } else if (state[0] === start - W) {
      prev = state[1] as number;
    }
  }
  const L = spec.limit;
  const admits = prev * (W - elapsed) + (cur + cost) * W <= L * W;
  const after = admits ? cur + cost : cur;
  const used = prev * (W - elapsed) + after * W; // scaled by W
  const remaining = Math.max(0, Math.floor((L * W - used) / W));
  let retryAfterMs = 0;
  if (!admits) {
    if (cur + cost <= L && prev > 0) {
      // Wait inside this window until the previous window's weight has decayed enough.
      retryAfterMs = Math.max(1, Math.ceil(W - elapsed - ((L - cur - cost) * W) / prev));
    } else {
      // Wait for the next window, where this window's count becomes the weighted previous one.
      const inNext = after === 0 ? 0 : Math.max(0, Math.ceil(W - ((L - cost) * W) / after));
      retryAfterMs = W - elapsed + inNext;
    }
  }
  // Fully replenished once both the current and previous counts have slid out.
  const resetMs = after > 0 ? 2 * W - elapsed : prev > 0 ? W - elapsed : 0;
  return {
    admits,
    next: [start, after, prev],
    ttlMs: 2 * W - elapsed,
    report: { remaining, resetMs, retryAfterMs },
  };
}

function refill(spec: LimitSpec, state: AlgorithmState, now: number): number {
  const tokens = state[0] as number;
  const updated = state[1] as number;
  const elapsed = Math.max(0, now - updated);
  return Math.min(spec.limit, tokens + (elapsed * spec.limit) / spec.windowMs);
}

function tokenBucket(
  spec: LimitSpec,
  state: AlgorithmState | undefined,
  now: number,
  cost: number,
): Evaluation {
  const W = spec.windowMs;
  const L = spec.limit;
  const tokens = state === undefined ? L : refill(spec, state, now);
  const admits = tokens >= cost;
  const after = admits ? tokens - cost : tokens;
  const toFullMs = Math.ceil(((L - after) * W) / L);
  return {
    admits,
    next: [after, now],
    ttlMs: toFullMs,
    report: {
      remaining: Math.floor(after),
      resetMs: toFullMs,
      retryAfterMs: admits ? 0 : Math.max(1, Math.ceil(((cost - tokens) * W) / L)),
    },
  };
}

function gcra(spec: LimitSpec, state: AlgorithmState | undefined, now: number, cost: number): Evaluation {
  const W = spec.windowMs;
  const T = W / spec.limit;
  const tat = state === undefined ? now : Math.max(state[0] as number, now);
  const newTat = tat + cost * T;
  const admits = newTat - now <= W;
  const effective = admits ? newTat : tat;
  return {
    admits,
    next: [effective],
    ttlMs: Math.ceil(effective - now),
    report: {
      remaining: Math.max(0, Math.floor((W - (effective - now)) / T + 1e-9)),
      resetMs: Math.ceil(effective - now),
      retryAfterMs: admits ? 0 : Math.max(1, Math.ceil(newTat - W - now)),
    },
  };
}
