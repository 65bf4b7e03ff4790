import { createHash } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { manualClock } from "../core/clock.js";
import { memoryLogger, silentLogger } from "../core/logger.js";
import { memoryStore } from "../stores/memory/index.js";
import { memoryCoreOf } from "../stores/memory/store.js";
import { type RateLimitOptions, rateLimit } from "./limiter.js";
import type { LimitOptions } from "./limits.js";
import type { RateLimitStore, StoreDecision } from "./types.js";

const T0 = Date.UTC(2026, 0, 1);
const burst: LimitOptions = { name: "burst", algorithm: "gcra", limit: 2, windowMs: 1000 };
const money: LimitOptions = { name: "money", algorithm: "sliding-window", limit: 10, windowMs: 60_000 };

function setup(extra: Partial<RateLimitOptions> = {}) {
  const clock = manualClock(T0);
  const limiter = rateLimit({ limits: [burst, money], clock, logger: silentLogger, ...extra });
  return { clock, limiter };
}

type Mode = "ok" | "throw" | "hang" | "garbage";

/** An async store in front of a memory store, with switchable failures. */
function flakyStore(clock = manualClock(T0)) {
  const inner = memoryStore({ clock });
  const state = { mode: "ok" as Mode, garbage: null as unknown, keys: [] as string[] };
  const gate = <T>(work: () => Promise<T>): Promise<T> => {
    if (state.mode === "throw") return Promise.reject(new Error("connection refused"));
    if (state.mode === "hang") return new Promise<T>(() => {});
    return work();
  };
  const store: RateLimitStore = {
    kind: "flaky",
    consume: (r) => {
      state.keys.push(r.key);
      if (state.mode === "garbage") return Promise.resolve(state.garbage as StoreDecision);
      return gate(() => inner.consume(r));
    },
    refund: (k, l, a) => gate(() => inner.refund(k, l, a)),
    settle: (k, l, id, action) =>
      state.mode === "garbage" ? Promise.resolve("yes" as never) : gate(() => inner.settle(k, l, id, action)),
    reset: (k, l) => gate(() => inner.reset(k, l)),
    block: (k, ms) => gate(() => inner.block(k, ms)),
  };
  return { store, state, clock };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("rateLimit: checks", () => {
  it("admits and reports every limit with name, limit, window, remaining and reset", async () => {
    const { limiter } = setup();
    expect(await limiter.check("user:1")).toEqual({
      allowed: true,
      limits: [
        { name: "burst", limit: 2, windowMs: 1000, remaining: 1, resetMs: 500 },
        { name: "money", limit: 10, windowMs: 60_000, remaining: 9, resetMs: 120_000 },
      ],
      retryAfterMs: 0,
      code: undefined,
      listed: undefined,
    });
  });

  it("denies with ERR_RATELIMIT_EXCEEDED and the exact wait, consuming nothing", async () => {
    const { limiter, clock } = setup();
    await limiter.check("k");
    await limiter.check("k");
    const d = await limiter.check("k");
    expect(d).toMatchObject({ allowed: false, retryAfterMs: 500, code: "ERR_RATELIMIT_EXCEEDED" });
    // money was not charged by the denied check
    expect(d.limits[1]?.remaining).toBe(8);
    clock.advance(499);
    expect((await limiter.check("k")).allowed).toBe(false);
    clock.advance(1);
    expect((await limiter.check("k")).allowed).toBe(true);
    expect((await limiter.get("k")).limits[1]?.remaining).toBe(7);
  });

  it("takes `cost` units from every limit", async () => {
    const { limiter } = setup({ limits: [money] });
    const d = await limiter.check("k", { cost: 7 });
    expect(d.limits[0]?.remaining).toBe(3);
    expect((await limiter.check("k", { cost: 4 })).allowed).toBe(false);
    expect((await limiter.check("k", { cost: 3 })).allowed).toBe(true);
  });

  it("denies a cost above a limit with ERR_RATELIMIT_COST_EXCEEDS_LIMIT and consumes nothing", async () => {
    const { limiter } = setup();
    const d = await limiter.check("k", { cost: 3 });
    expect(d).toEqual({
      allowed: false,
      limits: [],
      retryAfterMs: 0,
      code: "ERR_RATELIMIT_COST_EXCEEDS_LIMIT",
      listed: undefined,
    });
    expect((await limiter.get("k")).limits.map((l) => l.remaining)).toEqual([2, 10]);
  });

  it("rejects a cost that is not an integer ≥ 0 with ERR_RATELIMIT_INVALID_COST", async () => {
    const { limiter } = setup();
    for (const cost of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "1" as never]) {
      expect(await limiter.check("k", { cost })).toMatchObject({
        allowed: false,
        code: "ERR_RATELIMIT_INVALID_COST",
      });
    }
    expect((await limiter.get("k")).limits[0]?.remaining).toBe(2);
  });

  it("rejects a key that is not a non-empty, well-formed string with ERR_RATELIMIT_INVALID_KEY", async () => {
    const { limiter } = setup();
    for (const key of ["", 42, undefined, null, {}, "a\uD800b"]) {
      expect(await limiter.check(key as string)).toMatchObject({
        allowed: false,
        code: "ERR_RATELIMIT_INVALID_KEY",
      });
    }
    await expect(limiter.reset("")).rejects.toMatchObject({ code: "ERR_RATELIMIT_INVALID_KEY" });
    await expect(limiter.block(7 as never, 10)).rejects.toMatchObject({ code: "ERR_RATELIMIT_INVALID_KEY" });
    await expect(limiter.refund("", 1)).rejects.toMatchObject({ code: "ERR_RATELIMIT_INVALID_KEY" });
    expect(await limiter.reserve("", 1)).toMatchObject({ allowed: false, code: "ERR_RATELIMIT_INVALID_KEY" });
  });

  it("cost 0 peeks: allowed says whether a cost of 1 would pass", async () => {
    const { limiter } = setup();
    await limiter.check("k", { cost: 2 });
    expect(await limiter.check("k", { cost: 0 })).toMatchObject({
      allowed: false,
      code: "ERR_RATELIMIT_EXCEEDED",
    });
    expect((await limiter.get("k")).limits.map((l) => l.remaining)).toEqual([0, 8]);
  });

  it("keys longer than 256 UTF-8 bytes are replaced by their SHA-256 (base64url)", async () => {
    const { store, state } = flakyStore();
    const limiter = rateLimit({ store, limits: [burst], logger: silentLogger });
    const exact = "é".repeat(128); // 256 bytes: kept
    const long = "é".repeat(129); // 258 bytes: hashed
    await limiter.check(exact);
    await limiter.check(long);
    const hashed = createHash("sha256").update(Buffer.from(long, "utf8")).digest("base64url");
    expect(state.keys).toEqual([exact, hashed]);
    expect(hashed).toHaveLength(43);
  });

  it("holds a long key's state under its hash in the memory store, and keeps two long keys apart", async () => {
    const store = memoryStore({ clock: manualClock(T0) });
    const limiter = rateLimit({ store, limits: [burst], logger: silentLogger });
    const a = `${"x".repeat(300)}a`;
    const b = `${"x".repeat(300)}b`;
    await limiter.check(a, { cost: 2 });
    expect((await limiter.check(a)).allowed).toBe(false);
    expect((await limiter.check(b)).allowed).toBe(true);
    const keys = [...(memoryCoreOf(store)?.tables ?? [])].flatMap((t) => [...t.map.keys()]);
    expect(keys.every((k) => k.length === 43)).toBe(true);
  });

  it("limiters sharing a store are kept apart by their prefix", async () => {
    const store = memoryStore({ clock: manualClock(T0) });
    const a = rateLimit({ store, limits: [burst], prefix: "a:", logger: silentLogger });
    const b = rateLimit({ store, limits: [burst], prefix: "b:", logger: silentLogger });
    const a2 = rateLimit({ store, limits: [burst], prefix: "a:", logger: silentLogger });
    await a.check("k", { cost: 2 });
    expect((await b.check("k")).allowed).toBe(true);
    expect((await a2.check("k")).allowed).toBe(false);
  });

  it("prefixes keys for an external store", async () => {
    const { store, state } = flakyStore();
    const limiter = rateLimit({ store, limits: [burst], prefix: "api:", logger: silentLogger });
    await limiter.check("u1");
    expect(state.keys).toEqual(["api:u1"]);
  });

  it("chooses limits per request from the context (trust levels)", async () => {
    const free: LimitOptions[] = [{ name: "minute", algorithm: "fixed-window", limit: 2, windowMs: 60_000 }];
    const pro: LimitOptions[] = [{ name: "minute", algorithm: "fixed-window", limit: 5, windowMs: 60_000 }];
    const limiter = rateLimit<{ tier: "free" | "pro" }>({
      limits: (ctx) => (ctx?.tier === "pro" ? pro : free),
      clock: manualClock(T0),
      logger: silentLogger,
    });
    await limiter.check("u", { context: { tier: "free" }, cost: 2 });
    expect((await limiter.check("u", { context: { tier: "free" } })).allowed).toBe(false);
    // Upgrading keeps what was used in this window.
    const d = await limiter.check("u", { context: { tier: "pro" } });
    expect(d).toMatchObject({ allowed: true, limits: [{ name: "minute", limit: 5, remaining: 2 }] });
    expect(limiter.limitsFor({ tier: "pro" })).toEqual(pro);
  });

  it("a limits function returning invalid limits rejects the check with ERR_CONFIG_INVALID", async () => {
    const limiter = rateLimit({
      limits: () => [{ name: "x", algorithm: "gcra", limit: 0, windowMs: 1000 }],
      logger: silentLogger,
    });
    await expect(limiter.check("k")).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
  });
});

describe("rateLimit: key operations", () => {
  it("get reads without consuming", async () => {
    const { limiter } = setup();
    await limiter.check("k");
    const first = await limiter.get("k");
    expect(await limiter.get("k")).toEqual(first);
    expect(first).toMatchObject({ allowed: true, limits: [{ remaining: 1 }, { remaining: 9 }] });
  });

  it("reset forgets a key", async () => {
    const { limiter } = setup();
    await limiter.check("k", { cost: 2 });
    await limiter.block("k", 10_000);
    await limiter.reset("k");
    expect((await limiter.check("k")).allowed).toBe(true);
  });

  it("block denies with ERR_RATELIMIT_BLOCKED until the block ends", async () => {
    const { limiter, clock } = setup();
    await limiter.block("k", 5000);
    const d = await limiter.check("k");
    expect(d).toMatchObject({ allowed: false, code: "ERR_RATELIMIT_BLOCKED", retryAfterMs: 5000 });
    expect(d.limits.map((l) => l.remaining)).toEqual([2, 10]);
    expect(await limiter.get("k")).toMatchObject({
      allowed: false,
      code: "ERR_RATELIMIT_BLOCKED",
      retryAfterMs: 5000,
    });
    clock.advance(5000);
    expect((await limiter.check("k")).allowed).toBe(true);
  });

  it("refuses a block duration that is not an integer ≥ 1", async () => {
    const { limiter } = setup();
    for (const ms of [0, -5, 1.5, Number.NaN]) {
      await expect(limiter.block("k", ms)).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    }
  });

  it("refund gives units back to every limit, capped at the limit", async () => {
    const { limiter } = setup();
    await limiter.check("k", { cost: 2 });
    await limiter.refund("k", 1);
    expect((await limiter.get("k")).limits.map((l) => l.remaining)).toEqual([1, 9]);
    await limiter.refund("k", 100);
    expect((await limiter.get("k")).limits.map((l) => l.remaining)).toEqual([2, 10]);
  });

  it("refuses a refund amount that is not an integer ≥ 0", async () => {
    const { limiter } = setup();
    await expect(limiter.refund("k", -1)).rejects.toMatchObject({ code: "ERR_RATELIMIT_INVALID_COST" });
    await expect(limiter.refund("k", 0.5)).rejects.toMatchObject({ code: "ERR_RATELIMIT_INVALID_COST" });
  });
});

describe("rateLimit: reservations", () => {
  const spend: LimitOptions = {
    name: "spend",
    algorithm: "fixed-window",
    limit: 10_000,
    windowMs: 86_400_000,
  };

  it("release gives the amount back; commit keeps it; settling twice answers false", async () => {
    const { limiter } = setup({ limits: [spend] });
    const a = await limiter.reserve("acct", 3000);
    const b = await limiter.reserve("acct", 2000);
    expect(a.allowed && b.allowed).toBe(true);
    expect(a.limits[0]?.remaining).toBe(7000);
    expect(await a.reservation?.release()).toBe(true);
    expect(await b.reservation?.commit()).toBe(true);
    expect((await limiter.get("acct")).limits[0]?.remaining).toBe(8000);
    expect(await a.reservation?.release()).toBe(false);
    expect(await b.reservation?.release()).toBe(false);
    expect((await limiter.get("acct")).limits[0]?.remaining).toBe(8000);
  });

  it("an unconfirmed reservation is refunded after its ttl", async () => {
    const { limiter, clock } = setup({ limits: [spend], reservationTtlMs: 60_000 });
    const r = await limiter.reserve("acct", 4000);
    clock.advance(59_999);
    expect((await limiter.get("acct")).limits[0]?.remaining).toBe(6000);
    clock.advance(1);
    expect((await limiter.get("acct")).limits[0]?.remaining).toBe(10_000);
    expect(await r.reservation?.commit()).toBe(false);
  });

  it("a per-call ttlMs overrides the default", async () => {
    const { limiter, clock } = setup({ limits: [spend] });
    await limiter.reserve("acct", 4000, { ttlMs: 10 });
    clock.advance(10);
    expect((await limiter.get("acct")).limits[0]?.remaining).toBe(10_000);
    await expect(limiter.reserve("acct", 1, { ttlMs: 0 })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
  });

  it("a reservation that does not fit is denied and takes nothing", async () => {
    const { limiter } = setup({ limits: [spend] });
    await limiter.reserve("acct", 9000);
    const d = await limiter.reserve("acct", 2000);
    expect(d).toMatchObject({ allowed: false, code: "ERR_RATELIMIT_EXCEEDED", reservation: undefined });
    expect(await limiter.reserve("acct", 20_000)).toMatchObject({
      allowed: false,
      code: "ERR_RATELIMIT_COST_EXCEEDS_LIMIT",
    });
    expect(await limiter.reserve("acct", 0)).toMatchObject({
      allowed: false,
      code: "ERR_RATELIMIT_INVALID_COST",
    });
    expect((await limiter.get("acct")).limits[0]?.remaining).toBe(1000);
  });

  it("settles through an external store", async () => {
    const { store } = flakyStore();
    const limiter = rateLimit({ store, limits: [spend], logger: silentLogger });
    const r = await limiter.reserve("acct", 500);
    expect(await r.reservation?.release()).toBe(true);
    expect((await limiter.get("acct")).limits[0]?.remaining).toBe(10_000);
  });
});

describe("rateLimit: allow and deny lists", () => {
  it("deny-listed keys and IPs are denied with ERR_RATELIMIT_BLOCKED; deny wins over allow", async () => {
    const { limiter } = setup({
      deny: { keys: ["bad"], ips: ["203.0.113.0/24"] },
      allow: { keys: ["bad", "good"], ips: ["10.0.0.0/8", "203.0.113.9"] },
    });
    const denied = { allowed: false, code: "ERR_RATELIMIT_BLOCKED", listed: "deny", limits: [] };
    expect(await limiter.check("bad")).toMatchObject(denied);
    expect(await limiter.check("x", { ip: "203.0.113.9" })).toMatchObject(denied);
    expect(await limiter.check("x", { ip: "::ffff:203.0.113.7" })).toMatchObject(denied);
  });

  it("allow-listed keys and IPs pass without consuming", async () => {
    const { limiter } = setup({ allow: { keys: ["good"], ips: ["10.0.0.0/8", "2001:db8::/32"] } });
    for (let i = 0; i < 5; i++) {
      expect(await limiter.check("good")).toMatchObject({ allowed: true, listed: "allow", code: undefined });
      expect(await limiter.check("x", { ip: "10.1.2.3" })).toMatchObject({ allowed: true, listed: "allow" });
      expect(await limiter.check("y", { ip: "2001:db8::1" })).toMatchObject({
        allowed: true,
        listed: "allow",
      });
    }
    expect((await limiter.check("x", { ip: "192.0.2.1" })).listed).toBeUndefined();
    const r = await limiter.reserve("good", 1);
    expect(r.allowed).toBe(true);
    expect(await r.reservation?.commit()).toBe(true);
  });
});

describe("rateLimit: store failures", () => {
  it("closed (default): an unreachable store denies with ERR_RATELIMIT_STORE_UNAVAILABLE", async () => {
    const { store, state } = flakyStore();
    const limiter = rateLimit({ store, limits: [burst], logger: silentLogger });
    state.mode = "throw";
    expect(await limiter.check("k")).toEqual({
      allowed: false,
      limits: [],
      retryAfterMs: 1000,
      code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
      listed: undefined,
    });
    expect(limiter.stats).toEqual({ storeFailures: 1, failOpenAdmissions: 0, failClosedDenials: 1 });
  });

  it("a store that does not answer within storeTimeoutMs counts as unavailable", async () => {
    vi.useFakeTimers();
    const { store, state } = flakyStore();
    const limiter = rateLimit({ store, limits: [burst], storeTimeoutMs: 50, logger: silentLogger });
    state.mode = "hang";
    const pending = limiter.check("k");
    await vi.advanceTimersByTimeAsync(49);
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toMatchObject({ allowed: false, code: "ERR_RATELIMIT_STORE_UNAVAILABLE" });
  });

  it("a store answering garbage fails like an outage and never admits", async () => {
    const { store, state } = flakyStore();
    const limiter = rateLimit({ store, limits: [burst], failMode: "closed", logger: silentLogger });
    state.mode = "garbage";
    const ok = { remaining: 1, resetMs: 1, retryAfterMs: 0 };
    const garbage: unknown[] = [
      null,
      undefined,
      "OK",
      {},
      { allowed: "yes", nowMs: T0, limits: [ok] },
      { allowed: true, nowMs: T0, limits: [] },
      { allowed: true, nowMs: T0, limits: [ok, ok] },
      { allowed: true, nowMs: Number.NaN, limits: [ok] },
      { allowed: true, nowMs: T0, limits: [{ ...ok, remaining: -1 }] },
      { allowed: true, nowMs: T0, limits: [{ ...ok, resetMs: Number.POSITIVE_INFINITY }] },
      { allowed: true, nowMs: T0, limits: [{ ...ok, retryAfterMs: "0" }] },
      { allowed: true, nowMs: T0, limits: [null] },
      { allowed: true, nowMs: T0, blockedUntilMs: T0 + 5, limits: [ok] },
      { allowed: false, nowMs: T0, limits: [ok] },
    ];
    for (const g of garbage) {
      state.garbage = g;
      expect(await limiter.check("k")).toMatchObject({
        allowed: false,
        code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
      });
    }
    expect(limiter.stats.storeFailures).toBe(garbage.length);
    state.garbage = { allowed: true, nowMs: T0, blockedUntilMs: undefined, limits: [ok] };
    expect((await limiter.check("k")).allowed).toBe(true);
  });

  it("open: admits, flags the decision and counts, logging once per minute", async () => {
    const clock = manualClock(T0);
    const logger = memoryLogger();
    const { store, state } = flakyStore(clock);
    const limiter = rateLimit({ store, limits: [burst], failMode: "open", logger, clock });
    state.mode = "throw";
    for (let i = 0; i < 5; i++) {
      expect(await limiter.check("k")).toMatchObject({
        allowed: true,
        code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
      });
    }
    expect(limiter.stats).toEqual({ storeFailures: 5, failOpenAdmissions: 5, failClosedDenials: 0 });
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]).toMatchObject({
      level: "error",
      code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
      failMode: "open",
      store: "flaky",
      failures: 1,
    });
    clock.advance(59_999);
    await limiter.check("k");
    expect(logger.entries).toHaveLength(1);
    clock.advance(1);
    await limiter.check("k");
    expect(logger.entries).toHaveLength(2);
    // Every failure since the previous line is counted in the next one.
    expect(logger.entries[1]).toMatchObject({ failures: 6 });
    // Nothing in the log names the key.
    expect(JSON.stringify(logger.entries)).not.toContain('"k"');
  });

  it("recovers by itself when the store answers again, and says so once", async () => {
    const logger = memoryLogger();
    const { store, state } = flakyStore();
    const limiter = rateLimit({ store, limits: [burst], logger });
    state.mode = "throw";
    expect((await limiter.check("k")).allowed).toBe(false);
    state.mode = "ok";
    expect((await limiter.check("k")).allowed).toBe(true);
    expect((await limiter.check("k")).allowed).toBe(true);
    expect(logger.entries.map((e) => e.msg)).toEqual([
      "rate-limit store unavailable; denying requests (failMode closed)",
      "rate-limit store recovered",
    ]);
  });

  it("a reservation admitted while failing open cannot be settled", async () => {
    const { store, state } = flakyStore();
    const limiter = rateLimit({ store, limits: [burst], failMode: "open", logger: silentLogger });
    state.mode = "throw";
    const r = await limiter.reserve("k", 1);
    expect(r).toMatchObject({ allowed: true, code: "ERR_RATELIMIT_STORE_UNAVAILABLE" });
    expect(await r.reservation?.commit()).toBe(false);
  });

  it("key operations reject with ERR_RATELIMIT_STORE_UNAVAILABLE when the store fails", async () => {
    const { store, state } = flakyStore();
    const limiter = rateLimit({ store, limits: [burst], logger: silentLogger });
    const r = await limiter.reserve("k", 1);
    state.mode = "throw";
    const unavailable = { code: "ERR_RATELIMIT_STORE_UNAVAILABLE" };
    await expect(limiter.reset("k")).rejects.toMatchObject(unavailable);
    await expect(limiter.block("k", 10)).rejects.toMatchObject(unavailable);
    await expect(limiter.refund("k", 1)).rejects.toMatchObject(unavailable);
    await expect(r.reservation?.commit()).rejects.toMatchObject(unavailable);
    state.mode = "garbage";
    await expect(r.reservation?.commit()).rejects.toMatchObject(unavailable);
  });
});

describe("rateLimit: options", () => {
  const invalid = (options: unknown, message: RegExp) => {
    expect(() => rateLimit(options as RateLimitOptions)).toThrowError(
      expect.objectContaining({ code: "ERR_CONFIG_INVALID", message: expect.stringMatching(message) }),
    );
  };
  const one = (patch: Record<string, unknown>) => ({ limits: [{ ...burst, ...patch }] });

  it("refuses a limit ≤ 0 or not an integer", () => {
    invalid(one({ limit: 0 }), /"limit" must be ≥ 1/);
    invalid(one({ limit: -3 }), /"limit" must be ≥ 1/);
    invalid(one({ limit: 2.5 }), /"limit" must be an integer/);
  });

  it("refuses a windowMs that is not a positive integer", () => {
    invalid(one({ windowMs: 1.5 }), /"windowMs" must be an integer/);
    invalid(one({ windowMs: 0 }), /"windowMs" must be ≥ 1/);
    invalid(one({ windowMs: "1000" }), /"windowMs" must be an integer/);
    invalid(one({ windowMs: 400 * 86_400_000 }), /"windowMs" must be ≤/);
  });

  it("refuses a limit × window too large for exact arithmetic", () => {
    invalid(one({ limit: 2 ** 40, windowMs: 86_400_000 }), /below 2\^53/);
  });

  it("refuses duplicate names, bad names, no limits and more than 8", () => {
    invalid({ limits: [burst, { ...money, name: "burst" }] }, /duplicate limit name "burst"/);
    invalid(one({ name: "" }), /"name" must be/);
    invalid(one({ name: 'a"b' }), /"name" must be/);
    invalid({ limits: [] }, /at least one limit/);
    invalid({ limits: Array.from({ length: 9 }, (_, i) => ({ ...burst, name: `l${i}` })) }, /at most 8/);
    invalid({ limits: "gcra" }, /"limits" must be an array/);
    invalid({}, /"limits" must be an array/);
  });

  it("refuses an unknown algorithm with a did-you-mean", () => {
    invalid(one({ algorithm: "sliding_window" }), /did you mean "sliding-window"/);
  });

  it("refuses unknown option keys with a did-you-mean", () => {
    invalid({ limits: [burst], failmode: "open" }, /unknown option "failmode" — did you mean "failMode"/);
    invalid({ limits: [burst], storeTimeout: 5 }, /did you mean "storeTimeoutMs"/);
    invalid({ limits: [{ ...burst, window: 5 }] }, /unknown option "window" — did you mean "windowMs"/);
    invalid({ limits: [burst], allow: { ip: [] } }, /did you mean "ips"/);
  });

  it("refuses bad failMode, storeTimeoutMs, prefix, store, clock, logger and lists", () => {
    invalid({ limits: [burst], failMode: "half-open" }, /"failMode" must be one of/);
    invalid({ limits: [burst], storeTimeoutMs: 0 }, /"storeTimeoutMs" must be ≥ 1/);
    invalid({ limits: [burst], storeTimeoutMs: 1.5 }, /"storeTimeoutMs" must be an integer/);
    invalid({ limits: [burst], prefix: 5 }, /"prefix" must be a string/);
    invalid({ limits: [burst], store: {} }, /"store" must implement RateLimitStore/);
    invalid({ limits: [burst], clock: { now: 1 } }, /"clock" must be an object/);
    invalid({ limits: [burst], logger: console.log }, /"logger" must have/);
    invalid({ limits: [burst], deny: { ips: ["not-an-ip"] } }, /not an IP address/);
    invalid({ limits: [burst], deny: { keys: [""] } }, /non-empty strings/);
    invalid({ limits: [burst], reservationTtlMs: 0 }, /"reservationTtlMs" must be ≥ 1/);
  });

  it("never mutates or keeps the caller's objects", async () => {
    const limits = [{ ...burst }];
    const options = { limits, logger: silentLogger };
    const frozen = JSON.stringify(options.limits);
    const limiter = rateLimit(options);
    limits[0]!.limit = 1000;
    expect(JSON.stringify(limits[0])).not.toBe(frozen);
    await limiter.check("k", { cost: 2 });
    expect((await limiter.check("k")).allowed).toBe(false);
    expect(Object.isFrozen(limiter.limitsFor()[0])).toBe(true);
  });
});
