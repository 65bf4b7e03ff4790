import { type Clock, systemClock } from "../../core/clock.js";
import { BulwarkError } from "../../core/errors.js";
import { checkKeys, configError, integer } from "../../core/options.js";
import { type CompiledLimit, compileLimit, evaluateInto } from "../../ratelimit/algorithms.js";
import type {
  ConcurrencyStore,
  ConsumeRequest,
  LeaseDecision,
  LimitSpec,
  LimitState,
  RateLimitStore,
  StoreDecision,
} from "../../ratelimit/types.js";
import { Table, type TableOwner } from "./table.js";

/**
 * The embedded store: rate-limit state and concurrency leases in this process's memory.
 * Bounded by `maxKeys`, lazy expiry, no timers. The right choice for a single server; use the
 * Redis or Postgres store when several servers must share limits.
 */

export interface MemoryStoreOptions {
  /**
   * Most keys held at once (default 1,000,000). Once reached, memory stays flat: a new key evicts
   * an expired entry, otherwise the oldest entry not used since it was inserted. The bound applies
   * to limit state; blocks, reservations and leases are each bounded by it separately.
   */
  maxKeys?: number;
  /** Store time (default the system clock). Every check reads time from here, not from the caller. */
  clock?: Clock;
}

export interface MemoryStore extends RateLimitStore, ConcurrencyStore {
  readonly kind: "memory";
  /** Keys currently holding limit state (lazily expired ones included until they are reclaimed). */
  readonly size: number;
}

/** Outcome of a namespace-level consume. */
export const ADMITTED = 0;
export const DENIED = 1;
export const BLOCKED = 2;

/** Limits resolved against a namespace: the table holding each one's state, and their constants. */
export interface BoundLimits {
  readonly tables: readonly Table[];
  readonly limits: readonly CompiledLimit[];
}

interface Reservation {
  readonly id: string;
  readonly amount: number;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly bound: BoundLimits;
}

interface Lease {
  readonly id: string;
  expiresAtMs: number;
}

/** Entries a bounded side map inspects for expired ones before dropping its oldest. */
const TRIM_SCAN = 64;

/** State is kept per key and limit layout: name, algorithm and window (not the `limit` value). */
function layoutSignature(l: LimitSpec): string {
  return `${l.name}\u0000${l.algorithm}\u0000${l.windowMs}`;
}

/**
 * One key space of the memory store. The limiter binds to the namespace of its prefix, so keys
 * are never concatenated on the hot path; the generic `RateLimitStore` methods use namespace "".
 */
export class MemoryNamespace {
  readonly blocked = new Map<string, number>();
  readonly reservations = new Map<string, Reservation[]>();
  /** Set by `consume` when it answers BLOCKED: the store time the block ends. */
  blockedUntilMs = 0;
  /** The store time of the last `consume`. */
  nowMs = 0;
  private readonly tables = new Map<string, Table>();
  private readonly bound = new WeakMap<readonly LimitSpec[], BoundLimits>();
  private reservationCount = 0;
  /** Scratch for `consume`: each limit's slot, and each limit's candidate next state. */
  private readonly slots = new Int32Array(8);
  private readonly next = new Float64Array(8 * 3);
  private readonly peek = new Float64Array(4);

  constructor(private readonly core: MemoryCore) {}

  /** Resolves a list of limits (cached by array identity; callers pass stable arrays). */
  bind(limits: readonly LimitSpec[]): BoundLimits {
    let b = this.bound.get(limits);
    if (b !== undefined) return b;
    const tables = limits.map((spec) => {
      const signature = layoutSignature(spec);
      let table = this.tables.get(signature);
      if (table === undefined) {
        table = new Table(this.core, spec);
        this.tables.set(signature, table);
        this.core.tables.add(table);
      }
      return table;
    });
    b = { tables, limits: limits.map(compileLimit) };
    this.bound.set(limits, b);
    return b;
  }

  /**
   * Atomically (this is synchronous): refunds the key's expired reservations, evaluates every limit
   * and, unless the key is blocked or a limit denies, consumes `cost` and records the reservation.
   * Writes `[remaining, resetMs, retryAfterMs, ttlMs]` per limit into `out`.
   */
  consume(
    b: BoundLimits,
    key: string,
    cost: number,
    out: Float64Array,
    reservation?: { readonly id: string; readonly ttlMs: number },
  ): number {
    const now = this.core.clock.now();
    this.nowMs = now;
    if (this.reservations.size !== 0) this.expireReservations(key, now);
    let blockedUntil = 0;
    if (this.blocked.size !== 0) {
      const until = this.blocked.get(key);
      if (until !== undefined) {
        if (until > now) blockedUntil = until;
        else this.blocked.delete(key);
      }
    }
    const tables = b.tables;
    const limits = b.limits;
    const n = limits.length;
    const slots = this.slots;
    const next = this.next;
    let admits = true;
    for (let i = 0; i < n; i++) {
      const t = tables[i] as Table;
      const slot = t.map.get(key);
      let ok: boolean;
      if (slot === undefined) {
        slots[i] = -1;
        ok = evaluateInto(limits[i] as CompiledLimit, t.fresh, 0, now, cost, next, i * 3, out, i * 4);
      } else {
        slots[i] = slot;
        t.ref[slot] = 1;
        ok = evaluateInto(
          limits[i] as CompiledLimit,
          t.state,
          slot * t.stride,
          now,
          cost,
          next,
          i * 3,
          out,
          i * 4,
        );
      }
      if (!ok) admits = false;
    }
    if (admits && blockedUntil === 0 && cost > 0) {
      for (let i = 0; i < n; i++) {
        const t = tables[i] as Table;
        let slot = slots[i] as number;
        // An insertion earlier in this loop may have evicted a slot looked up above.
        if (slot < 0 || t.keys[slot] !== key) slot = t.map.get(key) ?? t.insert(key, now);
        const state = t.state;
        const stride = t.stride;
        const base = slot * stride;
        for (let j = 0; j < stride; j++) state[base + j] = next[i * 3 + j] as number;
        t.setExpiry(slot, now + (out[i * 4 + 3] as number));
      }
    }
    if (blockedUntil !== 0 || !admits) {
      // Nothing was consumed: a limit that would have admitted reports its state as it stands.
      if (cost > 0) this.reportUnconsumed(b, slots, now, out);
      if (blockedUntil === 0) return DENIED;
      this.blockedUntilMs = blockedUntil;
      return BLOCKED;
    }
    if (reservation !== undefined && cost > 0) this.reserve(b, key, cost, now, reservation);
    return ADMITTED;
  }

  private reportUnconsumed(b: BoundLimits, slots: Int32Array, now: number, out: Float64Array): void {
    const peek = this.peek;
    const next = this.next;
    for (let i = 0; i < b.limits.length; i++) {
      if ((out[i * 4 + 2] as number) !== 0) continue; // this limit denied: already as it stands
      const t = b.tables[i] as Table;
      const slot = slots[i] as number;
      const src = slot < 0 ? t.fresh : t.state;
      evaluateInto(
        b.limits[i] as CompiledLimit,
        src,
        slot < 0 ? 0 : slot * t.stride,
        now,
        0,
        next,
        0,
        peek,
        0,
      );
      out[i * 4] = peek[0] as number;
      out[i * 4 + 1] = peek[1] as number;
    }
  }

  refund(b: BoundLimits, key: string, amount: number): void {
    const now = this.core.clock.now();
    if (this.reservations.size !== 0) this.expireReservations(key, now);
    refundAll(b, key, amount, now);
  }

  /** Commits or releases a reservation; false when it is unknown, settled or expired (then refunded). */
  settle(b: BoundLimits, key: string, id: string, action: "commit" | "release"): boolean {
    const now = this.core.clock.now();
    this.expireReservations(key, now);
    const list = this.reservations.get(key);
    if (list === undefined) return false;
    const index = list.findIndex((r) => r.id === id && sameTables(r.bound, b));
    if (index === -1) return false;
    const r = list[index] as Reservation;
    this.dropReservation(key, list, index);
    if (action === "release") refundAll(r.bound, key, r.amount, now, r.createdAtMs);
    return true;
  }

  reset(b: BoundLimits, key: string): void {
    for (const t of b.tables) t.delete(key);
    this.blocked.delete(key);
    const list = this.reservations.get(key);
    if (list !== undefined) {
      this.reservationCount -= list.length;
      this.reservations.delete(key);
    }
  }

  block(key: string, durationMs: number): void {
    const now = this.core.clock.now();
    if (!this.blocked.has(key) && this.blocked.size >= this.core.maxKeys) {
      trimMap(this.blocked, (until) => until <= now);
    }
    const until = now + durationMs;
    const current = this.blocked.get(key);
    // A block never shortens one already in force (a later, shorter lockout must not lift it early).
    if (current === undefined || current < until) this.blocked.set(key, until);
  }

  /** Forgets everything in this namespace. */
  clear(): void {
    for (const table of this.tables.values()) {
      table.clear();
      this.core.tables.delete(table);
    }
    this.tables.clear();
    this.blocked.clear();
    this.reservations.clear();
    this.reservationCount = 0;
  }

  private reserve(
    b: BoundLimits,
    key: string,
    amount: number,
    now: number,
    reservation: { readonly id: string; readonly ttlMs: number },
  ): void {
    if (this.reservationCount >= this.core.maxKeys) this.trimReservations(now);
    const entry: Reservation = {
      id: reservation.id,
      amount,
      createdAtMs: now,
      expiresAtMs: now + reservation.ttlMs,
      bound: b,
    };
    const list = this.reservations.get(key);
    if (list === undefined) this.reservations.set(key, [entry]);
    else list.push(entry);
    this.reservationCount++;
  }

  /** Refunds the key's reservations whose time is up (lazy: no timer ever fires). */
  private expireReservations(key: string, now: number): void {
    const list = this.reservations.get(key);
    if (list === undefined) return;
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i] as Reservation;
      if (r.expiresAtMs <= now) {
        this.dropReservation(key, list, i);
        refundAll(r.bound, key, r.amount, now, r.createdAtMs);
      }
    }
  }

  private dropReservation(key: string, list: Reservation[], index: number): void {
    list.splice(index, 1);
    this.reservationCount--;
    if (list.length === 0) this.reservations.delete(key);
  }

  /** Over the bound: settle expired reservations (refunding them), else drop the oldest (kept as consumed). */
  private trimReservations(now: number): void {
    let inspected = 0;
    for (const key of this.reservations.keys()) {
      const before = this.reservationCount;
      this.expireReservations(key, now);
      if (this.reservationCount < before || ++inspected >= TRIM_SCAN) break;
    }
    if (this.reservationCount < this.core.maxKeys) return;
    const first = this.reservations.entries().next();
    if (!first.done) this.dropReservation(first.value[0], first.value[1], 0);
  }
}

function refundAll(b: BoundLimits, key: string, amount: number, now: number, consumedAtMs?: number): void {
  for (let i = 0; i < b.tables.length; i++) {
    (b.tables[i] as Table).refund(b.limits[i] as CompiledLimit, key, amount, now, consumedAtMs);
  }
}

function sameTables(a: BoundLimits, b: BoundLimits): boolean {
  return a.tables.length === b.tables.length && a.tables.every((t, i) => t === b.tables[i]);
}

/** Deletes an expired entry among the first few, else the oldest entry. */
function trimMap<V>(map: Map<string, V>, expired: (value: V) => boolean): void {
  let inspected = 0;
  for (const [key, value] of map) {
    if (expired(value)) {
      map.delete(key);
      return;
    }
    if (++inspected >= TRIM_SCAN) break;
  }
  const first = map.keys().next();
  if (!first.done) map.delete(first.value);
}

/** The shared state behind one memory store. */
export class MemoryCore implements TableOwner {
  count = 0;
  readonly tables = new Set<Table>();
  readonly leases = new Map<string, Lease[]>();
  private readonly namespaces = new Map<string, MemoryNamespace>();

  constructor(
    readonly maxKeys: number,
    readonly clock: Clock,
  ) {}

  namespace(prefix: string): MemoryNamespace {
    let ns = this.namespaces.get(prefix);
    if (ns === undefined) {
      ns = new MemoryNamespace(this);
      this.namespaces.set(prefix, ns);
    }
    return ns;
  }

  evictFor(table: Table, now: number, key: string): void {
    // Expired entries first, in this table and then in the others; a live entry only if none is found.
    if (table.reclaim(now, key)) return;
    for (const t of this.tables) if (t !== table && t.reclaim(now, key)) return;
    if (table.size > 0) {
      table.evictOne(now, key);
      return;
    }
    let largest: Table | undefined;
    for (const t of this.tables) if (largest === undefined || t.size > largest.size) largest = t;
    largest?.evictOne(now, key);
  }

  /** Forgets every key, block, reservation and lease. */
  closeAll(): void {
    for (const ns of this.namespaces.values()) ns.clear();
    this.namespaces.clear();
    this.leases.clear();
    this.count = 0;
  }

  acquire(key: string, leaseId: string, limit: number, leaseMs: number): LeaseDecision {
    const now = this.clock.now();
    let list = this.leases.get(key);
    if (list === undefined) {
      if (this.leases.size >= this.maxKeys) {
        trimMap(this.leases, (l) => l.every((lease) => lease.expiresAtMs <= now));
      }
      list = [];
      this.leases.set(key, list);
    } else {
      pruneLeases(list, now);
    }
    // Acquiring a lease id already held renews it and takes no second slot.
    const held = list.find((l) => l.id === leaseId);
    if (held !== undefined) {
      held.expiresAtMs = now + leaseMs;
      return { acquired: true, held: list.length, retryAfterMs: 0 };
    }
    if (list.length < limit) {
      list.push({ id: leaseId, expiresAtMs: now + leaseMs });
      return { acquired: true, held: list.length, retryAfterMs: 0 };
    }
    let earliest = Number.POSITIVE_INFINITY;
    for (const lease of list) if (lease.expiresAtMs < earliest) earliest = lease.expiresAtMs;
    if (list.length === 0) this.leases.delete(key);
    return { acquired: false, held: list.length, retryAfterMs: Math.max(1, earliest - now) };
  }

  release(key: string, leaseId: string): boolean {
    const now = this.clock.now();
    const list = this.leases.get(key);
    if (list === undefined) return false;
    const index = list.findIndex((l) => l.id === leaseId);
    const live = index !== -1 && (list[index] as Lease).expiresAtMs > now;
    if (index !== -1) list.splice(index, 1);
    pruneLeases(list, now);
    if (list.length === 0) this.leases.delete(key);
    return live;
  }

  extend(key: string, leaseId: string, leaseMs: number): boolean {
    const now = this.clock.now();
    const list = this.leases.get(key);
    if (list === undefined) return false;
    pruneLeases(list, now);
    const lease = list.find((l) => l.id === leaseId);
    if (list.length === 0) this.leases.delete(key);
    if (lease === undefined) return false;
    lease.expiresAtMs = now + leaseMs;
    return true;
  }
}

function pruneLeases(list: Lease[], now: number): void {
  let w = 0;
  for (let r = 0; r < list.length; r++) {
    const lease = list[r] as Lease;
    if (lease.expiresAtMs > now) list[w++] = lease;
  }
  list.length = w;
}

/** The symbol under which a memory store exposes its synchronous core to the limiter. */
export const MEMORY_CORE: unique symbol = Symbol("bulwark.memoryStore.core");

/** The synchronous core of a memory store, or undefined for any other store. */
export function memoryCoreOf(store: unknown): MemoryCore | undefined {
  if (store === null || typeof store !== "object") return undefined;
  const core = (store as { [MEMORY_CORE]?: unknown })[MEMORY_CORE];
  return core instanceof MemoryCore ? core : undefined;
}

function invalidKey(): BulwarkError {
  return new BulwarkError("ERR_RATELIMIT_INVALID_KEY", "memoryStore: a key must be a non-empty string", {
    status: 500,
  });
}

/** Creates the in-process store (rate limits and concurrency leases). */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const where = "memoryStore";
  const o = checkKeys(where, options, ["maxKeys", "clock"]);
  const maxKeys = integer(where, "maxKeys", o.maxKeys, 1_000_000, { min: 1, max: 2 ** 30 });
  const clock = o.clock ?? systemClock;
  if (clock === null || typeof clock !== "object" || typeof (clock as Clock).now !== "function") {
    throw configError(where, `"clock" must be an object with a now() method`);
  }
  const core = new MemoryCore(maxKeys, clock as Clock);
  const ns = core.namespace("");
  const scratch = new Float64Array(4 * 8);

  const decision = (code: number, n: number): StoreDecision => {
    const limits: LimitState[] = [];
    for (let i = 0; i < n; i++) {
      limits.push({
        remaining: scratch[i * 4] as number,
        resetMs: scratch[i * 4 + 1] as number,
        retryAfterMs: scratch[i * 4 + 2] as number,
      });
    }
    return {
      allowed: code === ADMITTED,
      nowMs: ns.nowMs,
      blockedUntilMs: code === BLOCKED ? ns.blockedUntilMs : undefined,
      limits,
    };
  };
  const validKey = (key: unknown): key is string => typeof key === "string" && key.length > 0;
  const bind = (limits: readonly LimitSpec[]): BoundLimits => {
    if (!Array.isArray(limits) || limits.length === 0 || limits.length > 8) {
      throw configError(where, "a request needs 1 to 8 limits");
    }
    return ns.bind(limits);
  };
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  };

  return {
    kind: "memory",
    get size() {
      return core.count;
    },
    [MEMORY_CORE]: core,
    consume: (request: ConsumeRequest) =>
      run(() => {
        if (!validKey(request.key)) throw invalidKey();
        const b = bind(request.limits);
        const code = ns.consume(b, request.key, request.cost, scratch, request.reservation);
        return decision(code, request.limits.length);
      }),
    refund: (key, limits, amount) =>
      run(() => {
        if (!validKey(key)) throw invalidKey();
        ns.refund(bind(limits), key, amount);
      }),
    settle: (key, limits, reservationId, action) =>
      run(() => {
        if (!validKey(key)) throw invalidKey();
        return ns.settle(bind(limits), key, reservationId, action);
      }),
    reset: (key, limits) =>
      run(() => {
        if (!validKey(key)) throw invalidKey();
        ns.reset(bind(limits), key);
      }),
    block: (key, durationMs) =>
      run(() => {
        if (!validKey(key)) throw invalidKey();
        ns.block(key, durationMs);
      }),
    acquire: (key, leaseId, limit, leaseMs) =>
      run(() => {
        if (!validKey(key)) throw invalidKey();
        return core.acquire(key, leaseId, limit, leaseMs);
      }),
    release: (key, leaseId) => run(() => validKey(key) && core.release(key, leaseId)),
    extend: (key, leaseId, leaseMs) => run(() => validKey(key) && core.extend(key, leaseId, leaseMs)),
    close: () =>
      run(() => {
        core.closeAll();
      }),
  } as MemoryStore;
}
