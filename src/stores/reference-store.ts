import type { Clock } from "../core/clock.js";
import { type AlgorithmState, evaluate, evaluateCheck, refund } from "../ratelimit/algorithms.js";
import type {
  ConcurrencyStore,
  ConsumeRequest,
  LeaseDecision,
  LimitSpec,
  LimitState,
  RateLimitStore,
  StoreDecision,
} from "../ratelimit/types.js";

/**
 * The store semantics every implementation must reproduce exactly, written as plainly as possible
 * on top of `algorithms.ts` (what the memory store runs: token bucket and GCRA on integers scaled
 * by gcd(limit, windowMs), a reservation refunded only to the window it was taken in). It is the
 * oracle of the store contract's differential test; it has no bounds and no eviction, so it is not
 * a store to deploy.
 *
 * - A stored state is kept `ttlMs` from when it was written and equals "never seen" from then on
 *   (`now ≥ writtenAt + ttlMs`), or when the limit's algorithm or window changed.
 * - Every operation first takes the expired reservations of the key (`expiresAt ≤ now`) and refunds
 *   each to the operation's limits with its own `refund(…, consumedAtMs)` (the store time it was
 *   taken; order does not matter, refunds compose).
 * - consume: evaluates every limit for `cost`. Admitted when the key is not blocked (`blockedUntil >
 *   now`) and every limit admits; then, when `cost > 0`, every limit's next state is written (a
 *   state whose ttl is ≤ 0 is deleted) and the reservation, if any, is recorded with `consumedAtMs =
 *   now` (the limiter's ids are random UUIDs; a held id reserved again adds its amount and keeps its
 *   first `consumedAtMs`). A cost of 0 writes nothing. Denied: nothing is written, and limits that
 *   would have admitted report their standing state (the evaluation at cost 0, retryAfterMs 0).
 * - refund: the amount is given back without `consumedAtMs` (current window first), after the
 *   expired reservations. settle "release": the reservation's amount with its `consumedAtMs`.
 * - block never shortens an existing block; reset forgets states, block and reservations.
 * - leases: expired when `expiresAt ≤ now`; re-acquiring a held lease id renews it.
 */
export function referenceStore(clock: Clock): ReferenceStore {
  const states = new Map<
    string,
    { alg: string; windowMs: number; state: AlgorithmState; expiresAt: number }
  >();
  const metas = new Map<string, { blockedUntil: number; reservations: Map<string, Reservation> }>();
  const leases = new Map<string, Map<string, number>>();

  const slot = (key: string, spec: LimitSpec) => `${key}\u0000${spec.name}`;
  const meta = (key: string) => {
    let m = metas.get(key);
    if (m === undefined) {
      m = { blockedUntil: 0, reservations: new Map() };
      metas.set(key, m);
    }
    return m;
  };
  const load = (key: string, spec: LimitSpec, now: number): AlgorithmState | undefined => {
    const s = states.get(slot(key, spec));
    if (s === undefined || s.alg !== spec.algorithm || s.windowMs !== spec.windowMs || s.expiresAt <= now)
      return undefined;
    return s.state;
  };
  const save = (key: string, spec: LimitSpec, state: AlgorithmState, ttlMs: number, now: number) => {
    if (ttlMs <= 0) states.delete(slot(key, spec));
    else
      states.set(slot(key, spec), {
        alg: spec.algorithm,
        windowMs: spec.windowMs,
        state,
        expiresAt: now + ttlMs,
      });
  };
  const give = (
    key: string,
    limits: readonly LimitSpec[],
    amount: number,
    now: number,
    consumedAtMs?: number,
  ) => {
    if (amount <= 0) return;
    for (const spec of limits) {
      const state = load(key, spec, now);
      const r = refund(spec, state, now, amount, consumedAtMs);
      if (r !== undefined) save(key, spec, r.next, r.ttlMs, now);
    }
  };
  /** Takes the key's expired reservations and refunds each. */
  const sweep = (key: string, limits: readonly LimitSpec[], now: number): void => {
    const m = metas.get(key);
    if (m === undefined) return;
    for (const [id, r] of m.reservations) {
      if (r.expiresAt <= now) {
        m.reservations.delete(id);
        give(key, limits, r.amount, now, r.consumedAt);
      }
    }
  };

  return {
    kind: "reference",
    inspect(key, spec) {
      const s = states.get(slot(key, spec));
      return s === undefined
        ? undefined
        : { algorithm: s.alg, windowMs: s.windowMs, expiresAt: s.expiresAt, state: [...s.state] };
    },
    async consume(request: ConsumeRequest): Promise<StoreDecision> {
      const now = clock.now();
      const { key, limits, cost } = request;
      sweep(key, limits, now);
      const blockedUntil = metas.get(key)?.blockedUntil ?? 0;
      const before = limits.map((spec) => load(key, spec, now));
      const evals = limits.map((spec, i) => evaluate(spec, before[i], now, cost));
      const allowed = blockedUntil <= now && evals.every((e) => e.admits);
      const reports: LimitState[] = [...evaluateCheck(limits, before, now, cost, blockedUntil > now).reports];
      if (allowed && cost > 0) {
        limits.forEach((spec, i) => {
          const e = evals[i]!;
          save(key, spec, e.next, e.ttlMs, now);
        });
        if (request.reservation !== undefined) {
          const m = meta(key);
          const held = m.reservations.get(request.reservation.id);
          m.reservations.set(request.reservation.id, {
            expiresAt: now + request.reservation.ttlMs,
            amount: cost + (held?.amount ?? 0),
            consumedAt: held?.consumedAt ?? now,
          });
        }
      }
      return {
        allowed,
        nowMs: now,
        blockedUntilMs: blockedUntil > now ? blockedUntil : undefined,
        limits: reports,
      };
    },
    async refund(key, limits, amount) {
      const now = clock.now();
      sweep(key, limits, now);
      give(key, limits, amount, now);
    },
    async settle(key, limits, reservationId, action) {
      const now = clock.now();
      const held = metas.get(key)?.reservations.get(reservationId);
      sweep(key, limits, now);
      const found = held !== undefined && held.expiresAt > now;
      if (found) metas.get(key)?.reservations.delete(reservationId);
      if (found && action === "release") give(key, limits, held.amount, now, held.consumedAt);
      return found;
    },
    async reset(key, limits) {
      for (const spec of limits) states.delete(slot(key, spec));
      metas.delete(key);
    },
    async block(key, durationMs) {
      const m = meta(key);
      m.blockedUntil = Math.max(m.blockedUntil, clock.now() + durationMs);
    },
    async acquire(key, leaseId, limit, leaseMs): Promise<LeaseDecision> {
      const now = clock.now();
      let held = leases.get(key);
      if (held === undefined) {
        held = new Map();
        leases.set(key, held);
      }
      for (const [id, at] of held) if (at <= now) held.delete(id);
      if (held.has(leaseId) || held.size < limit) {
        held.set(leaseId, now + leaseMs);
        return { acquired: true, held: held.size, retryAfterMs: 0 };
      }
      const first = Math.min(...held.values());
      return { acquired: false, held: held.size, retryAfterMs: Math.max(1, Math.ceil(first - now)) };
    },
    async release(key, leaseId) {
      const held = leases.get(key);
      const at = held?.get(leaseId);
      if (at === undefined) return false;
      held?.delete(leaseId);
      return at > clock.now();
    },
    async extend(key, leaseId, leaseMs) {
      const now = clock.now();
      const held = leases.get(key);
      const at = held?.get(leaseId);
      if (at === undefined) return false;
      if (at <= now) {
        held?.delete(leaseId);
        return false;
      }
      held?.set(leaseId, now + leaseMs);
      return true;
    },
  };
}

/** A stored limit state as written, expired or not. */
export interface StoredState {
  readonly algorithm: string;
  readonly windowMs: number;
  readonly expiresAt: number;
  readonly state: readonly number[];
}

export interface ReferenceStore extends RateLimitStore, ConcurrencyStore {
  /** The state stored for one limit of a key, as written (for comparing stores' internals). */
  inspect(key: string, spec: LimitSpec): StoredState | undefined;
}

interface Reservation {
  expiresAt: number;
  amount: number;
  /** Store time of the consume that took the units. */
  consumedAt: number;
}
