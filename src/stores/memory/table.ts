import { type CompiledLimit, compileLimit, refundInto, writeFreshState } from "../../ratelimit/algorithms.js";
import type { LimitSpec } from "../../ratelimit/types.js";

/**
 * The state of one limit for many keys, in flat typed arrays: a key maps to a slot number, and the
 * slot's numbers live at `state[slot·stride …]`. No object per key, no closure, no timer.
 *
 * A table is shaped by a layout (the limit's name, algorithm and window); the `limit` value is
 * passed per call, so per-tier limits that differ only in `limit` share one state.
 *
 * Expiry is lazy: an expired slot reads exactly like a fresh one (see `writeFreshState`), so nothing
 * has to run when a window ends. Slots are reclaimed when the table is full (eviction) and a little
 * at every insertion (a janitor hand frees expired slots it passes).
 *
 * Eviction is CLOCK (second chance): a slot gets its reference bit when it is used again after its
 * insertion; the hand frees the first expired slot it meets, otherwise the first slot without the
 * bit, clearing bits as it passes. Keys seen once (a flood of fresh keys) leave before keys in use.
 */

/** Slots the eviction hand inspects looking for an expired one before settling for the oldest. */
const EVICTION_SCAN = 32;
/** Slots the janitor hand inspects at every insertion. */
const JANITOR_SCAN = 2;
const INITIAL_CAPACITY = 64;
/** Largest expiry a slot can hold: 2106-02-07, i.e. "kept". */
const MAX_SECONDS = 0xffffffff;

/** Owner of tables: the global key budget and the eviction policy across tables. */
export interface TableOwner {
  /** Keys held across every table. */
  count: number;
  readonly maxKeys: number;
  /** Frees one slot somewhere (preferring `table`, sparing `key`) because `count` reached `maxKeys`. */
  evictFor(table: Table, now: number, key: string): void;
}

export class Table {
  readonly stride: number;
  readonly map = new Map<string, number>();
  /** A fresh state: what an unknown key reads. */
  readonly fresh: Float64Array;
  keys: Array<string | undefined>;
  state: Float64Array;
  /** Expiry per slot in whole seconds since the epoch, rounded up (eviction needs no more). */
  expires: Uint32Array;
  ref: Uint8Array;
  capacity: number;
  /** Slots handed out so far (free slots below it are on `free`). */
  used = 0;
  readonly free: number[] = [];
  private hand = 0;
  private janitor = 0;

  constructor(
    readonly owner: TableOwner,
    layout: LimitSpec,
  ) {
    const c = compileLimit(layout);
    this.stride = c.stateSize;
    this.fresh = new Float64Array(this.stride);
    writeFreshState(c, this.fresh, 0);
    this.capacity = Math.min(INITIAL_CAPACITY, owner.maxKeys);
    this.state = new Float64Array(this.capacity * this.stride);
    this.expires = new Uint32Array(this.capacity);
    this.ref = new Uint8Array(this.capacity);
    this.keys = new Array<string | undefined>(this.capacity);
  }

  /** Records that the slot's state must be kept until `ms` (store time). */
  setExpiry(slot: number, ms: number): void {
    const seconds = Math.ceil(ms / 1000);
    this.expires[slot] = Math.min(MAX_SECONDS, Math.max(0, seconds));
  }

  private expired(slot: number, now: number): boolean {
    return (this.expires[slot] as number) * 1000 <= now;
  }

  get size(): number {
    return this.map.size;
  }

  /** Applies a refund to `key` (no-op for an unknown key). */
  refund(limit: CompiledLimit, key: string, amount: number, now: number, consumedAtMs?: number): void {
    const slot = this.map.get(key);
    if (slot === undefined) return;
    const ttl = refundInto(limit, this.state, slot * this.stride, now, amount, consumedAtMs);
    // A refund only shortens what must be kept; keep the longer expiry.
    if (ttl >= 0 && this.expired(slot, now + ttl)) this.setExpiry(slot, now + ttl);
  }

  /** Forgets `key`. */
  delete(key: string): boolean {
    const slot = this.map.get(key);
    if (slot === undefined) return false;
    this.release(slot);
    return true;
  }

  clear(): void {
    this.owner.count -= this.map.size;
    this.map.clear();
    this.keys = new Array<string | undefined>(this.capacity);
    this.free.length = 0;
    this.used = 0;
    this.hand = 0;
    this.janitor = 0;
  }

  /**
   * Gives `key` a slot (the caller writes its state and expiry next). May evict another key, never
   * `key` itself in another table (the owner is told which key to spare).
   */
  insert(key: string, now: number): number {
    const owner = this.owner;
    this.sweep(now);
    if (owner.count >= owner.maxKeys) owner.evictFor(this, now, key);
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.used === this.capacity) this.grow();
      slot = this.used++;
    }
    this.keys[slot] = key;
    this.map.set(key, slot);
    this.ref[slot] = 0;
    this.expires[slot] = MAX_SECONDS;
    owner.count++;
    return slot;
  }

  private grow(): void {
    const capacity = Math.min(this.capacity * 2, this.owner.maxKeys);
    if (capacity <= this.capacity) throw new Error("memory store table cannot grow past maxKeys");
    const state = new Float64Array(capacity * this.stride);
    state.set(this.state);
    const expires = new Uint32Array(capacity);
    expires.set(this.expires);
    const keys = new Array<string | undefined>(capacity);
    for (let i = 0; i < this.used; i++) keys[i] = this.keys[i];
    this.keys = keys;
    const ref = new Uint8Array(capacity);
    ref.set(this.ref);
    this.state = state;
    this.expires = expires;
    this.ref = ref;
    this.capacity = capacity;
  }

  private release(slot: number): void {
    const key = this.keys[slot] as string;
    this.map.delete(key);
    this.keys[slot] = undefined;
    this.free.push(slot);
    this.owner.count--;
  }

  /** Janitor: frees the expired slots among the next few. */
  private sweep(now: number): void {
    const used = this.used;
    for (let i = 0; i < JANITOR_SCAN && used > 0; i++) {
      const s = this.janitor;
      this.janitor = s + 1 >= used ? 0 : s + 1;
      if (this.keys[s] !== undefined && this.expired(s, now)) this.release(s);
    }
  }

  /** Frees the first expired slot among the next few the janitor hand reaches; false when none. */
  reclaim(now: number, spare?: string): boolean {
    const used = this.used;
    for (let i = 0; i < EVICTION_SCAN && i < used; i++) {
      const s = this.janitor;
      this.janitor = s + 1 >= used ? 0 : s + 1;
      const k = this.keys[s];
      if (k !== undefined && k !== spare && this.expired(s, now)) {
        this.release(s);
        return true;
      }
    }
    return false;
  }

  /**
   * Frees one slot: the first expired one within reach, otherwise the first without a second
   * chance. `spare` is never evicted (the key being inserted elsewhere in the same check).
   */
  evictOne(now: number, spare?: string): void {
    const used = this.used;
    const size = this.map.size;
    if (size === 0 || (size === 1 && spare !== undefined && this.map.has(spare))) return;
    const reach = Math.min(EVICTION_SCAN, size);
    let victim = -1;
    let oldest = -1;
    let inspected = 0;
    for (let steps = 0; steps < 2 * used + reach; steps++) {
      const s = this.hand;
      this.hand = s + 1 >= used ? 0 : s + 1;
      const k = this.keys[s];
      if (k === undefined || k === spare) continue;
      if (this.expired(s, now)) {
        victim = s;
        break;
      }
      if (this.ref[s] === 0) {
        if (oldest === -1) oldest = s;
      } else if (oldest === -1) {
        this.ref[s] = 0;
      }
      if (++inspected >= reach && oldest !== -1) break;
    }
    if (victim === -1) {
      victim = oldest;
      this.hand = victim + 1 >= used ? 0 : victim + 1;
    }
    if (victim !== -1) this.release(victim);
  }
}
