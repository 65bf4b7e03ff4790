import { afterEach, describe, expect, it, vi } from "vitest";
import { manualClock } from "../core/clock.js";
import { memoryLogger, silentLogger } from "../core/logger.js";
import { memoryStore } from "../stores/memory/index.js";
import { concurrencyLimit } from "./concurrency.js";
import type { ConcurrencyStore } from "./types.js";

const T0 = Date.UTC(2026, 0, 1);

function setup(limit = 1, leaseMs = 30_000) {
  const clock = manualClock(T0);
  const limiter = concurrencyLimit({ limit, leaseMs, clock, logger: silentLogger });
  return { clock, limiter };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("concurrencyLimit", () => {
  it("allows one withdrawal in flight per account", async () => {
    const { limiter } = setup(1);
    const first = await limiter.acquire("acct:1");
    expect(first).toMatchObject({ acquired: true, held: 1, code: undefined });
    const second = await limiter.acquire("acct:1");
    expect(second).toEqual({
      acquired: false,
      lease: undefined,
      held: 1,
      retryAfterMs: 30_000,
      code: "ERR_CONCURRENCY_LIMIT_REACHED",
    });
    expect((await limiter.acquire("acct:2")).acquired).toBe(true);
    expect(await first.lease?.release()).toBe(true);
    expect((await limiter.acquire("acct:1")).acquired).toBe(true);
  });

  it("a crashed holder loses its slot when the lease expires", async () => {
    const { limiter, clock } = setup(1, 5000);
    const crashed = await limiter.acquire("k");
    clock.advance(4999);
    expect(await limiter.acquire("k")).toMatchObject({ acquired: false, retryAfterMs: 1 });
    clock.advance(1);
    expect((await limiter.acquire("k")).acquired).toBe(true);
    expect(await crashed.lease?.release()).toBe(false);
    expect(await crashed.lease?.extend()).toBe(false);
  });

  it("extend keeps a long operation's slot", async () => {
    const { limiter, clock } = setup(1, 5000);
    const held = await limiter.acquire("k");
    clock.advance(4000);
    expect(await held.lease?.extend()).toBe(true);
    clock.advance(4000);
    expect((await limiter.acquire("k")).acquired).toBe(false);
    expect(await held.lease?.extend(10_000)).toBe(true);
    clock.advance(9999);
    expect((await limiter.acquire("k")).acquired).toBe(false);
    await expect(held.lease?.extend(0)).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
  });

  it("holds at most `limit` leases under concurrent acquisition", async () => {
    const { limiter } = setup(3);
    const answers = await Promise.all(Array.from({ length: 20 }, () => limiter.acquire("k")));
    expect(answers.filter((a) => a.acquired)).toHaveLength(3);
  });

  it("refuses a key that is not a non-empty string", async () => {
    const { limiter } = setup();
    expect(await limiter.acquire("" as string)).toMatchObject({
      acquired: false,
      code: "ERR_RATELIMIT_INVALID_KEY",
    });
  });

  describe("store failures", () => {
    const down = (mode: "throw" | "hang" | "garbage"): ConcurrencyStore => ({
      kind: "down",
      acquire: () =>
        mode === "throw"
          ? Promise.reject(new Error("ECONNREFUSED"))
          : mode === "hang"
            ? new Promise(() => {})
            : Promise.resolve({ acquired: "yes" } as never),
      release: () => Promise.resolve("ok" as never),
      extend: () => Promise.reject(new Error("ECONNREFUSED")),
    });

    it("closed: refuses with ERR_RATELIMIT_STORE_UNAVAILABLE, for errors and garbage alike", async () => {
      for (const mode of ["throw", "garbage"] as const) {
        const limiter = concurrencyLimit({
          store: down(mode),
          limit: 1,
          leaseMs: 1000,
          logger: silentLogger,
        });
        expect(await limiter.acquire("k")).toEqual({
          acquired: false,
          lease: undefined,
          held: 0,
          retryAfterMs: 1000,
          code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
        });
      }
    });

    it("times out after storeTimeoutMs", async () => {
      vi.useFakeTimers();
      const limiter = concurrencyLimit({
        store: down("hang"),
        limit: 1,
        leaseMs: 1000,
        storeTimeoutMs: 20,
        logger: silentLogger,
      });
      const pending = limiter.acquire("k");
      await vi.advanceTimersByTimeAsync(20);
      expect(await pending).toMatchObject({ acquired: false, code: "ERR_RATELIMIT_STORE_UNAVAILABLE" });
    });

    it("open: grants an unenforced lease, flagged, and logs", async () => {
      const logger = memoryLogger();
      const limiter = concurrencyLimit({
        store: down("throw"),
        limit: 1,
        leaseMs: 1000,
        failMode: "open",
        logger,
      });
      const a = await limiter.acquire("k");
      expect(a).toMatchObject({ acquired: true, held: 0, code: "ERR_RATELIMIT_STORE_UNAVAILABLE" });
      expect(await a.lease?.release()).toBe(false);
      expect(logger.entries).toEqual([
        expect.objectContaining({ level: "error", code: "ERR_RATELIMIT_STORE_UNAVAILABLE" }),
      ]);
    });

    it("release and extend reject with ERR_RATELIMIT_STORE_UNAVAILABLE on failure or garbage", async () => {
      const inner = memoryStore();
      const store: ConcurrencyStore = { ...down("throw"), acquire: (...a) => inner.acquire(...a) };
      const limiter = concurrencyLimit({ store, limit: 1, leaseMs: 1000, logger: silentLogger });
      const a = await limiter.acquire("k");
      await expect(a.lease?.release()).rejects.toMatchObject({ code: "ERR_RATELIMIT_STORE_UNAVAILABLE" });
      await expect(a.lease?.extend()).rejects.toMatchObject({ code: "ERR_RATELIMIT_STORE_UNAVAILABLE" });
    });
  });

  describe("options", () => {
    it("refuses a missing or non-positive limit and leaseMs, unknown keys and a bad store", () => {
      const bad = [
        {},
        { limit: 0, leaseMs: 1000 },
        { limit: 1, leaseMs: 0 },
        { limit: 1.5, leaseMs: 1000 },
        { limit: 1, leaseMs: 1000, store: {} },
        { limit: 1, leaseMs: 1000, failMode: "sometimes" },
      ];
      for (const options of bad) {
        expect(() => concurrencyLimit(options as never)).toThrowError(
          expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
        );
      }
      expect(() => concurrencyLimit({ limit: 1, leaseMs: 1000, leaseMS: 5 } as never)).toThrowError(
        /did you mean "leaseMs"/,
      );
    });
  });
});
