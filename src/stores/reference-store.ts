import type { Clock } from "../core/clock.js";
import type {
  ConcurrencyStore,
  ConsumeRequest,
  LeaseDecision,
  LimitSpec,
  LimitState,
  RateLimitStore,
  StoreDecision,
} from "../ratelimit/types.js";
import { type AlgorithmState, evaluate, refund } from "./float-reference.js";

/**
 * The store semantics every implementation must reproduce exactly, written as plainly as possible
 * on top of `float-reference.ts` (the arithmetic the Redis and Postgres ports follow). It is the oracle of the store contract's differential test; it has no
 * bounds and no eviction, so it is not a store to deploy.
 *
 * - A stored state is kept `ttlMs` from when it was written and equals "never seen" from then on
 *   (`now ≥ writtenAt + ttlMs`), or when the limit's algorithm or window changed.
 * - Every operation first takes the expired reservations of the key (`expiresAt ≤ now`) and refunds
 *   their total amount to the operation's limits in one `refund()` call.
 * - consume: evaluates every limit for `cost`. Admitted when the key is not blocked (`blockedUntil >
 *   now`) and every limit admits; then, when `cost > 0`, every limit's next state is written (a
 *   state whose ttl is ≤ 0 is deleted) and the reservation, if any, is recorded (same id: amounts
 *   add up). A cost of 0 writes nothing. Denied: nothing is written, and limits that would have
 *   admitted report their standing state (the evaluation at cost 0).
 * - refund / settle: the amount (plus expired reservations) is given back in one `refund()` call.
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
  const sweep = (key: string, now: number): number => {
    let total = 0;
    const m = metas.get(key);
    if (m === undefined) return 0;
    for (const [id, r] of m.reservations) {
      if (r.expiresAt <= now) {
        total += r.amount;
        m.reservations.delete(id);
      }
    }
    return total;
  };
  const give = (key: string, limits: readonly LimitSpec[], amount: number, now: number) => {
    if (amount <= 0) return;
    for (const spec of limits) {
      const r = refund(spec, load(key, spec, now), now, amount);
      if (r !== undefined) save(key, spec, r.next, r.ttlMs, now);
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
      give(key, limits, sweep(key, now), now);
      const blockedUntil = metas.get(key)?.blockedUntil ?? 0;
      const before = limits.map((spec) => load(key, spec, now));
      const evals = limits.map((spec, i) => evaluate(spec, before[i], now, cost));
      const allowed = blockedUntil <= now && evals.every((e) => e.admits);
      const reports: LimitState[] = evals.map((e, i) =>
        allowed || !e.admits ? e.report : evaluate(limits[i] as LimitSpec, before[i], now, 0).report,
      );
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
      give(key, limits, sweep(key, now) + amount, now);
    },
    async settle(key, limits, reservationId, action) {
      const now = clock.now();
      const held = metas.get(key)?.reservations.get(reservationId);
      const expired = sweep(key, now);
      const found = held !== undefined && held.expiresAt > now;
      if (found) metas.get(key)?.reservations.delete(reservationId);
      give(key, limits, expired + (found && action === "release" ? held.amount : 0), now);
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
}
