import type { Algorithm, LimitSpec, LimitState } from "./types.js";

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
 *
 * Exactness. Token counts and arrival times are rationals (a refill of `limit / W` per ms, an
 * emission interval of `W / limit`), and plain floating point drifts: `1000 / 7` added seven times
 * exceeds 1000, so a GCRA of 7 per second would admit a burst of 6. Every computation is therefore
 * done on integers scaled by the rational's denominator (`g = gcd(limit, W)`):
 * - token-bucket: tokens × `W/g` is an integer; `tokens` is read back with `Math.round(tokens·W/g)`.
 * - gcra: (tat − now) × `limit/g` is an integer; read back with `Math.round((tat − now)·limit/g)`.
 * Stored values stay in the original units (state layouts unchanged); a port that stores them with
 * full double precision (e.g. Lua `string.format("%.17g", x)`) and applies the same rounding gets
 * bit-identical answers. GCRA is exact while `limit/g · now < 2^52` (limit/g ≤ 4096 at today's epoch);
 * beyond that the error stays below one scaled unit per operation.
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

const KIND: Record<Algorithm, 0 | 1 | 2 | 3> = {
  "fixed-window": 0,
  "sliding-window": 1,
  "token-bucket": 2,
  gcra: 3,
};

/** Numbers of state per algorithm (the length of its `AlgorithmState`). */
export const STATE_SIZE: Readonly<Record<Algorithm, number>> = {
  "fixed-window": 2,
  "sliding-window": 3,
  "token-bucket": 2,
  gcra: 1,
};

/** A limit with its constants resolved once, for the in-place functions below. */
export interface CompiledLimit {
  readonly spec: LimitSpec;
  /** 0 fixed-window, 1 sliding-window, 2 token-bucket, 3 gcra. */
  readonly kind: 0 | 1 | 2 | 3;
  readonly limit: number;
  readonly windowMs: number;
  readonly stateSize: number;
  /** token-bucket: W/g (tokens → integer units); gcra: limit/g (ms → integer units); else 1. */
  readonly scale: number;
  /** token-bucket: limit/g (units refilled per ms); gcra: W/g (units per emission); else 0. */
  readonly step: number;
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** Resolves a limit's constants. `limit` and `windowMs` must be positive integers (the limiter validates). */
export function compileLimit(spec: LimitSpec): CompiledLimit {
  const kind = KIND[spec.algorithm];
  const L = spec.limit;
  const W = spec.windowMs;
  const g = gcd(L, W);
  return {
    spec,
    kind,
    limit: L,
    windowMs: W,
    stateSize: STATE_SIZE[spec.algorithm],
    scale: kind === 2 ? W / g : kind === 3 ? L / g : 1,
    step: kind === 2 ? L / g : kind === 3 ? W / g : 0,
  };
}

/** A writable run of numbers: a plain array or a typed array. */
export type NumberSlots = { [index: number]: number };

/**
 * Writes the state of a key never seen at `state[offset…]`. Every function below treats it exactly
 * like `undefined`: a window start of −∞ matches no window, a bucket last updated at −∞ is full,
 * an arrival time of −∞ is in the past.
 */
export function writeFreshState(c: CompiledLimit, state: NumberSlots, offset: number): void {
  switch (c.kind) {
    case 0:
      state[offset] = Number.NEGATIVE_INFINITY;
      state[offset + 1] = 0;
      return;
    case 1:
      state[offset] = Number.NEGATIVE_INFINITY;
      state[offset + 1] = 0;
      state[offset + 2] = 0;
      return;
    case 2:
      state[offset] = 0;
      state[offset + 1] = Number.NEGATIVE_INFINITY;
      return;
    case 3:
      state[offset] = Number.NEGATIVE_INFINITY;
      return;
  }
}

/**
 * In-place evaluation for the hot path. Reads the state at `state[so…]` (never writes it), writes the
 * state to store if admitted at `next[no…]`, and writes `[remaining, resetMs, retryAfterMs, ttlMs]`
 * at `out[oo…]`. Returns whether `cost` fits now. `state` and `next` may be the same array only
 * when `so === no` and the caller stores `next` solely on admission of the whole check.
 */
export function evaluateInto(
  c: CompiledLimit,
  state: NumberSlots,
  so: number,
  now: number,
  cost: number,
  next: NumberSlots,
  no: number,
  out: NumberSlots,
  oo: number,
): boolean {
  const L = c.limit;
  const W = c.windowMs;
  switch (c.kind) {
    case 0: {
      const start = now - (now % W);
      const count = state[so] === start ? (state[so + 1] as number) : 0;
      const resetMs = start + W - now;
      const admits = count + cost <= L;
      const after = admits ? count + cost : count;
      next[no] = start;
      next[no + 1] = after;
      out[oo] = after < L ? L - after : 0;
      out[oo + 1] = resetMs;
      out[oo + 2] = admits ? 0 : resetMs;
      out[oo + 3] = resetMs;
      return admits;
    }
    case 1: {
      const start = now - (now % W);
      const elapsed = now - start;
      const s0 = state[so] as number;
      let cur = 0;
      let prev = 0;
      if (s0 === start) {
        cur = state[so + 1] as number;
        prev = state[so + 2] as number;
      } else if (s0 === start - W) {
        prev = state[so + 1] as number;
      }
      const admits = prev * (W - elapsed) + (cur + cost) * W <= L * W;
      const after = admits ? cur + cost : cur;
      const used = prev * (W - elapsed) + after * W; // scaled by W
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
      next[no] = start;
      next[no + 1] = after;
      next[no + 2] = prev;
      out[oo] = used < L * W ? Math.floor((L * W - used) / W) : 0;
      // Fully replenished once both the current and previous counts have slid out.
      out[oo + 1] = after > 0 ? 2 * W - elapsed : prev > 0 ? W - elapsed : 0;
      out[oo + 2] = retryAfterMs;
      out[oo + 3] = 2 * W - elapsed;
      return admits;
    }
    case 2: {
      const sc = c.scale;
      const rate = c.step;
      const capacity = L * sc;
      const tokens = tokenUnits(c, state, so, now);
      const need = cost * sc;
      const admits = tokens >= need;
      const after = admits ? tokens - need : tokens;
      const toFullMs = Math.ceil((capacity - after) / rate);
      next[no] = after / sc;
      next[no + 1] = now;
      out[oo] = Math.floor(after / sc);
      out[oo + 1] = toFullMs;
      out[oo + 2] = admits ? 0 : Math.max(1, Math.ceil((need - tokens) / rate));
      out[oo + 3] = toFullMs;
      return admits;
    }
    case 3: {
      const s = c.scale;
      const emission = c.step;
      const tolerance = W * s;
      const diff = arrivalUnits(c, state, so, now);
      const newDiff = diff + cost * emission;
      const admits = newDiff <= tolerance;
      const effective = admits ? newDiff : diff;
      const resetMs = Math.ceil(effective / s);
      next[no] = now + effective / s;
      out[oo] = effective < tolerance ? Math.floor((tolerance - effective) / emission) : 0;
      out[oo + 1] = resetMs;
      out[oo + 2] = admits ? 0 : Math.max(1, Math.ceil((newDiff - tolerance) / s));
      out[oo + 3] = resetMs;
      return admits;
    }
  }
}

/** token-bucket: tokens available at `now`, in integer units of 1/scale token. */
function tokenUnits(c: CompiledLimit, state: NumberSlots, so: number, now: number): number {
  const capacity = c.limit * c.scale;
  const elapsed = now - (state[so + 1] as number);
  const stored = Math.round((state[so] as number) * c.scale);
  return elapsed > 0 ? Math.min(capacity, stored + elapsed * c.step) : Math.min(capacity, stored);
}

/** gcra: max(0, tat − now), in integer units of 1/scale ms. */
function arrivalUnits(c: CompiledLimit, state: NumberSlots, so: number, now: number): number {
  const tat = state[so] as number;
  if (!(tat > now)) return 0;
  return Math.round((tat - now) * c.scale);
}

/**
 * In-place refund of `amount` units at `state[so…]`. `consumedAtMs`, when known (a reservation),
 * is the store time the units were taken: window algorithms then refund only the window they were
 * counted in (nothing once that window has slid out), so a refund never frees more than was taken.
 * Without it, the current window is refunded first, then the previous one.
 * Returns the new ttlMs, or −1 when nothing changed.
 */
export function refundInto(
  c: CompiledLimit,
  state: NumberSlots,
  so: number,
  now: number,
  amount: number,
  consumedAtMs?: number,
): number {
  const W = c.windowMs;
  switch (c.kind) {
    case 0: {
      const start = now - (now % W);
      if (state[so] !== start) return -1;
      if (consumedAtMs !== undefined && consumedAtMs - (consumedAtMs % W) !== start) return -1;
      state[so + 1] = Math.max(0, (state[so + 1] as number) - amount);
      return start + W - now;
    }
    case 1: {
      const start = now - (now % W);
      const s0 = state[so] as number;
      let cur: number;
      let prev: number;
      if (s0 === start) {
        cur = state[so + 1] as number;
        prev = state[so + 2] as number;
      } else if (s0 === start - W) {
        cur = 0;
        prev = state[so + 1] as number;
      } else {
        return -1;
      }
      if (consumedAtMs === undefined) {
        const fromCur = Math.min(cur, amount);
        cur -= fromCur;
        prev = Math.max(0, prev - (amount - fromCur));
      } else {
        const consumedStart = consumedAtMs - (consumedAtMs % W);
        if (consumedStart === start) cur = Math.max(0, cur - amount);
        else if (consumedStart === start - W) prev = Math.max(0, prev - amount);
        else return -1;
      }
      state[so] = start;
      state[so + 1] = cur;
      state[so + 2] = prev;
      return 2 * W - (now - start);
    }
    case 2: {
      const capacity = c.limit * c.scale;
      const tokens = Math.min(capacity, tokenUnits(c, state, so, now) + amount * c.scale);
      state[so] = tokens / c.scale;
      state[so + 1] = now;
      return Math.ceil((capacity - tokens) / c.step);
    }
    case 3: {
      const diff = Math.max(0, arrivalUnits(c, state, so, now) - amount * c.step);
      state[so] = now + diff / c.scale;
      return Math.ceil(diff / c.scale);
    }
  }
}

const compiledCache = new WeakMap<LimitSpec, CompiledLimit>();

function compiled(spec: LimitSpec): CompiledLimit {
  let c = compiledCache.get(spec);
  if (
    c === undefined ||
    c.limit !== spec.limit ||
    c.windowMs !== spec.windowMs ||
    c.spec.algorithm !== spec.algorithm
  ) {
    c = compileLimit(spec);
    compiledCache.set(spec, c);
  }
  return c;
}

function load(c: CompiledLimit, state: AlgorithmState | undefined): number[] {
  const buf = new Array<number>(c.stateSize);
  if (state === undefined) writeFreshState(c, buf, 0);
  else for (let i = 0; i < c.stateSize; i++) buf[i] = state[i] as number;
  return buf;
}

/** Evaluates one limit at `now` for `cost` units (cost 0 is a peek). Never mutates `state`. */
export function evaluate(
  spec: LimitSpec,
  state: AlgorithmState | undefined,
  now: number,
  cost: number,
): Evaluation {
  const c = compiled(spec);
  const current = load(c, state);
  const next = new Array<number>(c.stateSize);
  const out = [0, 0, 0, 0];
  const admits = evaluateInto(c, current, 0, now, cost, next, 0, out, 0);
  return {
    admits,
    next,
    ttlMs: out[3] as number,
    report: {
      remaining: out[0] as number,
      resetMs: out[1] as number,
      retryAfterMs: out[2] as number,
    },
  };
}

/**
 * Gives `amount` units back; the result never exceeds a fresh state. Returns the state to store, or
 * undefined when nothing changes (no state, or the units were counted in a window that has passed).
 * `consumedAtMs`: see `refundInto`.
 */
export function refund(
  spec: LimitSpec,
  state: AlgorithmState | undefined,
  now: number,
  amount: number,
  consumedAtMs?: number,
): { next: AlgorithmState; ttlMs: number } | undefined {
  if (state === undefined) return undefined;
  const c = compiled(spec);
  const buf = load(c, state);
  const ttlMs = refundInto(c, buf, 0, now, amount, consumedAtMs);
  return ttlMs < 0 ? undefined : { next: buf, ttlMs };
}

/** The reference answer to one check of several limits. */
export interface CheckEvaluation {
  /** Whether every limit admits `cost` (then every `next` is stored; otherwise nothing is). */
  readonly admits: boolean;
  readonly next: readonly AlgorithmState[];
  readonly ttlMs: readonly number[];
  /**
   * Per limit. When the check is admitted: as `evaluate` reports. When it is denied (by a limit or
   * a block), nothing is consumed, so every limit reports its state as it stands: a limit that
   * would have admitted `cost` reports the remaining and reset of a peek, with retryAfterMs 0.
   */
  readonly reports: readonly LimitState[];
}

/**
 * Evaluates a whole check, all-or-nothing: the semantics every store implements atomically.
 * `blocked` makes the check denied whatever the limits say (the key is blocked).
 */
export function evaluateCheck(
  specs: readonly LimitSpec[],
  states: ReadonlyArray<AlgorithmState | undefined>,
  now: number,
  cost: number,
  blocked = false,
): CheckEvaluation {
  const evaluations = specs.map((s, i) => evaluate(s, states[i], now, cost));
  const admits = !blocked && evaluations.every((e) => e.admits);
  const reports = evaluations.map((e, i) => {
    if (admits || !e.admits || cost === 0) return e.report;
    const peek = evaluate(specs[i] as LimitSpec, states[i], now, 0).report;
    return { remaining: peek.remaining, resetMs: peek.resetMs, retryAfterMs: 0 };
  });
  return { admits, next: evaluations.map((e) => e.next), ttlMs: evaluations.map((e) => e.ttlMs), reports };
}
