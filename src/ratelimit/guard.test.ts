import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { memoryLogger, silentLogger } from "../core/logger.js";
import type { Outcome, RespondOutcome } from "../core/outcome.js";
import { viewFromParts } from "../core/request.js";
import { memoryStore } from "../stores/memory/index.js";
import { type RateLimitGuardOptions, rateLimitGuard } from "./guard.js";
import { type RateLimitOptions, rateLimit } from "./limiter.js";
import type { RateLimitStore } from "./types.js";

const T0 = Date.UTC(2026, 0, 1);

function setup(guardOptions: RateLimitGuardOptions = {}, limiterOptions: Partial<RateLimitOptions> = {}) {
  const clock = manualClock(T0);
  const logger = memoryLogger();
  const limiter = rateLimit({
    limits: [
      { name: "burst", algorithm: "gcra", limit: 2, windowMs: 1000 },
      { name: "hour", algorithm: "fixed-window", limit: 100, windowMs: 3_600_000 },
    ],
    clock,
    logger: silentLogger,
    ...limiterOptions,
  });
  const guard = rateLimitGuard(limiter, { logger, clock, ...guardOptions });
  return { guard, limiter, clock, logger };
}

const from = (ip: string, headers: Record<string, string> = {}, url = "/") =>
  viewFromParts({ remoteAddress: ip, headers, url });

const body = (o: Outcome) => JSON.parse(String((o as RespondOutcome).body));
const header = (o: Outcome, name: string) => o.headers?.find(([n]) => n === name)?.[1];

describe("rateLimitGuard", () => {
  it("lets a request through with RateLimit-Policy and RateLimit headers", async () => {
    const { guard } = setup();
    expect(await guard(from("192.0.2.1"))).toEqual({
      action: "continue",
      headers: [
        ["ratelimit-policy", '"burst";q=2;w=1, "hour";q=100;w=3600'],
        ["ratelimit", '"burst";r=1;t=1, "hour";r=99;t=3600'],
      ],
    });
  });

  it("answers 429 problem+json with ERR_RATELIMIT_EXCEEDED, Retry-After and capped effective windows", async () => {
    const { guard } = setup();
    await guard(from("192.0.2.1"));
    await guard(from("192.0.2.1"));
    const o = await guard(from("192.0.2.1"));
    expect(o).toMatchObject({ action: "respond", status: 429 });
    expect(o.headers).toEqual([
      ["content-type", "application/problem+json"],
      ["cache-control", "no-store"],
      ["ratelimit-policy", '"burst";q=2;w=1, "hour";q=100;w=3600'],
      ["ratelimit", '"burst";r=0;t=1, "hour";r=98;t=1'],
      ["retry-after", "1"],
    ]);
    expect(body(o)).toEqual({
      type: "https://bulwark.dev/errors/ERR_RATELIMIT_EXCEEDED",
      title: "Too Many Requests",
      status: 429,
      code: "ERR_RATELIMIT_EXCEEDED",
    });
    // Another client is unaffected.
    expect((await guard(from("192.0.2.2"))).action).toBe("continue");
  });

  it("rounds Retry-After up to whole seconds", async () => {
    const { guard } = setup(
      {},
      { limits: [{ name: "minute", algorithm: "fixed-window", limit: 1, windowMs: 60_000 }] },
    );
    await guard(from("192.0.2.1"));
    const o = await guard(from("192.0.2.1"));
    expect(header(o, "retry-after")).toBe("60");
    expect(header(o, "ratelimit")).toBe('"minute";r=0;t=60');
  });

  it("sends X-RateLimit-* for the tightest limit when legacyHeaders is on", async () => {
    const { guard, clock } = setup({ legacyHeaders: true, standardHeaders: false });
    clock.advance(250);
    const o = await guard(from("192.0.2.1"));
    expect(o.headers).toEqual([
      ["x-ratelimit-limit", "2"],
      ["x-ratelimit-remaining", "1"],
      ["x-ratelimit-reset", String(Math.ceil((T0 + 250 + 500) / 1000))],
    ]);
  });

  it("sends no headers when both header kinds are off", async () => {
    const { guard } = setup({ standardHeaders: false });
    expect(await guard(from("192.0.2.1"))).toEqual({ action: "continue" });
  });

  it("report-only: counts and sends headers but never refuses", async () => {
    const { guard, limiter } = setup({ reportOnly: true });
    for (let i = 0; i < 5; i++) {
      const o = await guard(from("192.0.2.1"));
      expect(o.action).toBe("continue");
    }
    expect(header(await guard(from("192.0.2.1")), "ratelimit")).toBe('"burst";r=0;t=1, "hour";r=98;t=3600');
    expect((await limiter.get("192.0.2.1")).limits[1]?.remaining).toBe(98);
  });

  it("skip: the request is neither counted nor given headers", async () => {
    const { guard, limiter } = setup({ skip: (v) => v.path === "/health" });
    expect(await guard(from("192.0.2.1", {}, "/health"))).toEqual({ action: "continue" });
    expect((await limiter.get("192.0.2.1")).limits[0]?.remaining).toBe(2);
  });

  it("charges the cost given by a function of the request", async () => {
    const { guard } = setup({ cost: (v) => (v.path === "/expensive" ? 2 : 1) });
    expect(header(await guard(from("192.0.2.1", {}, "/expensive")), "ratelimit")).toBe(
      '"burst";r=0;t=1, "hour";r=98;t=3600',
    );
  });

  it("answers 400 ERR_RATELIMIT_COST_EXCEEDS_LIMIT for a cost no limit can admit", async () => {
    const { guard } = setup({ cost: 3 });
    const o = await guard(from("192.0.2.1"));
    expect(o).toMatchObject({ action: "respond", status: 400 });
    expect(body(o).code).toBe("ERR_RATELIMIT_COST_EXCEEDS_LIMIT");
  });

  it("keys by a custom function and passes the context to per-request limits", async () => {
    const clock = manualClock(T0);
    const limiter = rateLimit<string>({
      limits: (tier) =>
        tier === "pro"
          ? [{ name: "min", algorithm: "fixed-window", limit: 3, windowMs: 60_000 }]
          : [{ name: "min", algorithm: "fixed-window", limit: 1, windowMs: 60_000 }],
      clock,
      logger: silentLogger,
    });
    const guard = rateLimitGuard(limiter, {
      key: (v) => v.header("x-user") ?? "anon",
      context: (v) => v.header("x-tier") ?? "free",
      logger: silentLogger,
    });
    const pro = (ip: string) => from(ip, { "x-user": "u1", "x-tier": "pro" });
    expect((await guard(pro("192.0.2.1"))).action).toBe("continue");
    expect((await guard(pro("192.0.2.2"))).action).toBe("continue");
    expect((await guard(pro("192.0.2.3"))).action).toBe("continue");
    expect((await guard(pro("192.0.2.4"))).action).toBe("respond");
    expect((await guard(from("192.0.2.1", { "x-user": "u2" }))).action).toBe("continue");
    expect((await guard(from("192.0.2.1", { "x-user": "u2" }))).action).toBe("respond");
  });

  it("answers synchronously on the memory store, and through a promise on a store that does I/O", async () => {
    const { guard } = setup();
    const now = guard(from("192.0.2.1"));
    expect(now).not.toBeInstanceOf(Promise);
    expect(header(now as Outcome, "ratelimit")).toBe('"burst";r=1;t=1, "hour";r=99;t=3600');
    // The same limits behind a store that answers through a promise: the same decisions and headers.
    const memory = memoryStore({ clock: manualClock(T0) });
    const remote: RateLimitStore = {
      kind: "remote",
      consume: (request) => new Promise((resolve) => setImmediate(() => resolve(memory.consume(request)))),
      refund: (...args) => memory.refund(...args),
      settle: (...args) => memory.settle(...args),
      reset: (...args) => memory.reset(...args),
      block: (...args) => memory.block(...args),
    };
    const slow = setup({}, { store: remote }).guard;
    const first = slow(from("192.0.2.1"));
    expect(first).toBeInstanceOf(Promise);
    expect(header(await first, "ratelimit")).toBe('"burst";r=1;t=1, "hour";r=99;t=3600');
    await slow(from("192.0.2.1"));
    expect(await slow(from("192.0.2.1"))).toMatchObject({ action: "respond", status: 429 });
  });

  it("waits for a key function that returns a promise", async () => {
    const { guard } = setup({ key: async (v) => v.header("x-user") ?? "anon" });
    const pending = guard(from("192.0.2.1", { "x-user": "u1" }));
    expect(pending).toBeInstanceOf(Promise);
    expect((await pending).action).toBe("continue");
    await guard(from("192.0.2.2", { "x-user": "u1" }));
    expect(await guard(from("192.0.2.3", { "x-user": "u1" }))).toMatchObject({ status: 429 });
  });

  it("sends each request the RateLimit-Policy of the limits that applied to it", async () => {
    const limiter = rateLimit<string>({
      limits: (tier) =>
        tier === "pro"
          ? [{ name: "min", algorithm: "fixed-window", limit: 30, windowMs: 60_000 }]
          : [
              { name: "min", algorithm: "fixed-window", limit: 10, windowMs: 60_000 },
              { name: "day", algorithm: "fixed-window", limit: 100, windowMs: 86_400_000 },
            ],
      clock: manualClock(T0),
      logger: silentLogger,
    });
    const guard = rateLimitGuard(limiter, {
      context: (v) => v.header("x-tier") ?? "free",
      logger: silentLogger,
    });
    const as = async (tier: string) =>
      header(await guard(from("192.0.2.1", { "x-tier": tier })), "ratelimit-policy");
    for (let i = 0; i < 2; i++) {
      expect(await as("pro")).toBe('"min";q=30;w=60');
      expect(await as("free")).toBe('"min";q=10;w=60, "day";q=100;w=86400');
    }
  });

  it("answers 503 ERR_RATELIMIT_STORE_UNAVAILABLE when the store is down (closed)", async () => {
    const down: RateLimitStore = {
      kind: "down",
      consume: () => Promise.reject(new Error("ECONNREFUSED")),
      refund: () => Promise.reject(new Error("x")),
      settle: () => Promise.reject(new Error("x")),
      reset: () => Promise.reject(new Error("x")),
      block: () => Promise.reject(new Error("x")),
    };
    const { guard } = setup({}, { store: down });
    const o = await guard(from("192.0.2.1"));
    expect(o).toMatchObject({ action: "respond", status: 503 });
    expect(header(o, "retry-after")).toBe("1");
    expect(body(o)).toEqual({
      type: "https://bulwark.dev/errors/ERR_RATELIMIT_STORE_UNAVAILABLE",
      title: "Service Unavailable",
      status: 503,
      code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
    });
    const open = setup({}, { store: down, failMode: "open" });
    expect(await open.guard(from("192.0.2.1"))).toEqual({ action: "continue" });
  });

  it("answers 403 for a deny-listed IP or CIDR and waves allow-listed ones through without headers", async () => {
    const { guard } = setup({}, { deny: { ips: ["198.51.100.0/24"] }, allow: { ips: ["loopback"] } });
    const denied = await guard(from("198.51.100.7"));
    expect(denied).toMatchObject({ action: "respond", status: 403 });
    expect(body(denied)).toMatchObject({ code: "ERR_RATELIMIT_BLOCKED", title: "Forbidden" });
    for (let i = 0; i < 5; i++) expect(await guard(from("127.0.0.1"))).toEqual({ action: "continue" });
  });

  it("answers 429 ERR_RATELIMIT_BLOCKED with Retry-After for a blocked key", async () => {
    const { guard, limiter } = setup();
    await limiter.block("192.0.2.1", 90_000);
    const o = await guard(from("192.0.2.1"));
    expect(o).toMatchObject({ action: "respond", status: 429 });
    expect(body(o).code).toBe("ERR_RATELIMIT_BLOCKED");
    expect(header(o, "retry-after")).toBe("90");
  });

  it("answers 500 ERR_RATELIMIT_INVALID_KEY when the key function returns an empty key, logging once", async () => {
    const { guard, logger } = setup({ key: () => "" });
    const o = await guard(from("192.0.2.1"));
    expect(o).toMatchObject({ action: "respond", status: 500 });
    expect(body(o).code).toBe("ERR_RATELIMIT_INVALID_KEY");
    await guard(from("192.0.2.1"));
    expect(logger.entries.filter((e) => e.code === "ERR_RATELIMIT_INVALID_KEY")).toHaveLength(1);
  });

  it("keys IPv6 clients by their /64 by default", async () => {
    const { guard } = setup();
    await guard(from("2001:db8:1:2::1"));
    await guard(from("2001:db8:1:2:ffff::9"));
    expect((await guard(from("2001:db8:1:2::abcd"))).action).toBe("respond");
    expect((await guard(from("2001:db8:1:3::1"))).action).toBe("continue");
  });
});

describe("rateLimitGuard: client IP and start-up validations", () => {
  it("ignores a spoofed X-Forwarded-For when no proxy is trusted, and says so once", async () => {
    const { guard, logger } = setup();
    await guard(from("192.0.2.1", { "x-forwarded-for": "1.1.1.1" }));
    await guard(from("192.0.2.1", { "x-forwarded-for": "2.2.2.2" }));
    expect((await guard(from("192.0.2.1", { "x-forwarded-for": "3.3.3.3" }))).action).toBe("respond");
    expect(logger.entries.filter((e) => e.code === "ERR_PROXY_UNTRUSTED_FORWARDED_HEADER")).toHaveLength(1);
  });

  it("keys clients behind a trusted proxy by the forwarded address", async () => {
    const { guard, logger } = setup({ trustProxy: 1 });
    const via = (client: string) => from("10.0.0.1", { "x-forwarded-for": client });
    await guard(via("203.0.113.1"));
    await guard(via("203.0.113.1"));
    expect((await guard(via("203.0.113.1"))).action).toBe("respond");
    expect((await guard(via("203.0.113.2"))).action).toBe("continue");
    expect(logger.entries).toEqual([]);
  });

  it("logs ERR_PROXY_TRUST_TOO_BROAD at construction for a range covering the internet", () => {
    const { logger } = setup({ trustProxy: ["0.0.0.0/0"] });
    expect(logger.entries).toEqual([
      expect.objectContaining({ level: "error", code: "ERR_PROXY_TRUST_TOO_BROAD" }),
    ]);
    expect(setup({ trustProxy: ["10.0.0.0/8"] }).logger.entries).toEqual([]);
  });

  it("refuses trustProxy: true", () => {
    const limiter = rateLimit({ limits: [{ name: "a", algorithm: "gcra", limit: 1, windowMs: 1000 }] });
    expect(() => rateLimitGuard(limiter, { trustProxy: true as never })).toThrowError(
      expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
    );
  });

  it("logs ERR_KEY_GENERATOR_CONSTANT once when one key serves many client IPs", async () => {
    const { guard, logger } = setup(
      { key: () => "everyone" },
      {
        limits: [{ name: "a", algorithm: "gcra", limit: 1000, windowMs: 1000 }],
      },
    );
    for (let i = 1; i <= 12; i++) await guard(from(`192.0.2.${i}`));
    expect(logger.entries.filter((e) => e.code === "ERR_KEY_GENERATOR_CONSTANT")).toHaveLength(1);
  });

  it("does not flag a key function whose keys vary", async () => {
    const { guard, logger } = setup(
      { key: (v) => v.header("x-user") ?? "anon" },
      {
        limits: [{ name: "a", algorithm: "gcra", limit: 1000, windowMs: 1000 }],
      },
    );
    for (let i = 1; i <= 12; i++) await guard(from(`192.0.2.${i}`, { "x-user": `u${i % 3}` }));
    expect(logger.entries).toEqual([]);
  });

  it("validate: false logs nothing", async () => {
    const { guard, logger } = setup(
      { validate: false, trustProxy: ["::/0"], key: () => "k" },
      {
        limits: [{ name: "a", algorithm: "gcra", limit: 1000, windowMs: 1000 }],
      },
    );
    for (let i = 1; i <= 6; i++) await guard(from(`192.0.2.${i}`, { "x-forwarded-for": "1.1.1.1" }));
    expect(logger.entries).toEqual([]);
  });

  it("refuses unknown options with a did-you-mean, a bad cost and a non-limiter", () => {
    const limiter = rateLimit({ limits: [{ name: "a", algorithm: "gcra", limit: 1, windowMs: 1000 }] });
    expect(() => rateLimitGuard(limiter, { reportonly: true } as never)).toThrowError(
      /did you mean "reportOnly"/,
    );
    expect(() => rateLimitGuard(limiter, { cost: -1 })).toThrowError(
      expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
    );
    expect(() => rateLimitGuard(limiter, { ipv6Subnet: 32 })).toThrowError(
      expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
    );
    expect(() => rateLimitGuard({} as never)).toThrowError(
      expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
    );
  });

  it("works with a shared memory store and a prefix per guard", async () => {
    const store = memoryStore({ clock: manualClock(T0) });
    const a = rateLimitGuard(
      rateLimit({
        store,
        prefix: "a:",
        limits: [{ name: "x", algorithm: "gcra", limit: 1, windowMs: 1000 }],
      }),
      { logger: silentLogger },
    );
    const b = rateLimitGuard(
      rateLimit({
        store,
        prefix: "b:",
        limits: [{ name: "x", algorithm: "gcra", limit: 1, windowMs: 1000 }],
      }),
      { logger: silentLogger },
    );
    expect((await a(from("192.0.2.1"))).action).toBe("continue");
    expect((await b(from("192.0.2.1"))).action).toBe("continue");
    expect((await a(from("192.0.2.1"))).action).toBe("respond");
  });
});
