import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { REDIS_URL, redisAvailability } from "../../../test/servers.js";
import { manualClock } from "../../core/clock.js";
import { isBulwarkError } from "../../core/errors.js";
import { memoryLogger, silentLogger } from "../../core/logger.js";
import type { LimitSpec } from "../../ratelimit/types.js";
import type { StoredState } from "../reference-store.js";
import { closedPort, stallProxy } from "../stall-proxy.js";
import { describeRateLimitStoreContract } from "../store-contract.js";
import { redisStore } from "./index.js";
import { SCRIPT } from "./script.js";
import { keyTag } from "./store.js";

const redis = await redisAvailability();
const PREFIX = `bulwark-test:redis-store:${randomUUID().slice(0, 8)}:`;
const DAY_MS = 86_400_000;
const LIMITS: readonly LimitSpec[] = [
  { name: "burst", algorithm: "gcra", limit: 5, windowMs: 1_000 },
  { name: "minute", algorithm: "sliding-window", limit: 60, windowMs: 60_000 },
  { name: "daily", algorithm: "fixed-window", limit: 10_000, windowMs: DAY_MS },
];

/** Redis Cluster's rule: the slot is hashed from the first `{…}` with something inside, else the whole name. */
function hashTag(name: string): string {
  const open = name.indexOf("{");
  if (open === -1) return name;
  const close = name.indexOf("}", open + 1);
  if (close === -1 || close === open + 1) return name;
  return name.slice(open + 1, close);
}

async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== "0");
  return found;
}

const ALGORITHM_NAME: Record<number, string> = {
  1: "fixed-window",
  2: "sliding-window",
  3: "token-bucket",
  4: "gcra",
};

/** The state the script stored for one limit: 6 little-endian doubles in the key's hash. */
async function storedState(client: Redis, key: string, spec: LimitSpec): Promise<StoredState | undefined> {
  const raw = await client.hgetBuffer(`${keyTag(PREFIX, key)}r`, `l${spec.name}`);
  if (raw === null) return undefined;
  const d = (i: number) => raw.readDoubleLE(8 * i);
  return {
    algorithm: ALGORITHM_NAME[d(0)] ?? "?",
    windowMs: d(1),
    expiresAt: d(2),
    state: [d(3), d(4), d(5)],
  };
}

const unavailable = (error: unknown) => isBulwarkError(error, "ERR_RATELIMIT_STORE_UNAVAILABLE");

describe.runIf(redis.available)("redisStore on a real Redis", () => {
  let client: Redis;

  beforeAll(async () => {
    redis.assertUnderCi();
    client = new Redis(REDIS_URL, { enableAutoPipelining: true });
  });

  afterAll(async () => {
    if (client === undefined) return;
    const keys = await keysUnder(client, PREFIX);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  describeRateLimitStoreContract(
    "redis",
    ({ clock }) =>
      redisStore({
        client,
        prefix: PREFIX,
        timeoutMs: 2_000,
        ...(clock === undefined ? {} : { dangerouslyTestClock: clock, logger: silentLogger }),
      }),
    { runs: 60, inspect: (key, spec) => storedState(client, key, spec) },
  );

  it("answers a check of three limits with one EVALSHA and nothing else", async () => {
    const store = redisStore({ client, prefix: PREFIX });
    await store.consume({ key: "warm", limits: LIMITS, cost: 1 });
    const sent = vi.spyOn(client, "sendCommand");
    try {
      const d = await store.consume({ key: "round-trips", limits: LIMITS, cost: 1 });
      expect(d.allowed).toBe(true);
      expect(sent.mock.calls.map(([command]) => command.name)).toEqual(["evalsha"]);
    } finally {
      sent.mockRestore();
    }
  });

  it("re-sends the script with EVAL after SCRIPT FLUSH, then uses EVALSHA again", async () => {
    const store = redisStore({ client, prefix: PREFIX });
    const key = `flush:${randomUUID()}`;
    await store.consume({ key, limits: LIMITS, cost: 1 });
    await client.script("FLUSH");
    expect(await client.script("EXISTS", SCRIPT.sha)).toEqual([0]);
    const sent = vi.spyOn(client, "sendCommand");
    try {
      const d = await store.consume({ key, limits: LIMITS, cost: 1 });
      expect(d.allowed).toBe(true);
      expect(d.limits[2]?.remaining).toBe(9_998);
      expect(sent.mock.calls.map(([command]) => command.name)).toEqual(["evalsha", "eval"]);
      expect(await client.script("EXISTS", SCRIPT.sha)).toEqual([1]);
    } finally {
      sent.mockRestore();
    }
  });

  it("keeps every key of one check on one hash tag, for Redis Cluster", async () => {
    const prefix = `${PREFIX}tags:`;
    const store = redisStore({ client, prefix });
    for (const key of ["user:42", "}starts-with-brace", "a{b}c", "%7D"]) {
      await store.consume({ key, limits: LIMITS, cost: 1, reservation: { id: "r", ttlMs: 60_000 } });
      await store.acquire(key, "lease", 1, 60_000);
    }
    const keys = await keysUnder(client, prefix);
    const byTag = new Map<string, string[]>();
    for (const k of keys) byTag.set(hashTag(k), [...(byTag.get(hashTag(k)) ?? []), k]);
    // 4 user keys × (limits hash + lease set), each pair on one non-empty tag.
    expect(byTag.size).toBe(4);
    for (const [tag, group] of byTag) {
      expect(tag.length).toBeGreaterThan(0);
      expect(group.sort()).toEqual([`${prefix}{${tag}}:c`, `${prefix}{${tag}}:r`]);
    }
  });

  it("sets an expiry on every key it writes", async () => {
    const prefix = `${PREFIX}ttl:`;
    const store = redisStore({ client, prefix });
    await store.consume({ key: "k", limits: LIMITS, cost: 2, reservation: { id: "r", ttlMs: 30_000 } });
    await store.block("b", 10_000);
    await store.acquire("c", "lease", 2, 20_000);
    await store.refund("k", LIMITS, 1);
    const keys = await keysUnder(client, prefix);
    expect(keys).toHaveLength(3);
    // A limits hash is kept up to twice its longest state's lifetime (so its expiry is refreshed
    // rarely); LIMITS' longest is a day-long fixed window, whose state lives at most a day.
    for (const k of keys) {
      const ttl = await client.pttl(k);
      expect(ttl, k).toBeGreaterThan(0);
      expect(ttl, k).toBeLessThanOrEqual(2 * DAY_MS);
    }
  });

  it("rejects, never admits, when a stored state is corrupt or of the wrong type", async () => {
    const prefix = `${PREFIX}corrupt:`;
    const store = redisStore({ client, prefix });
    const limits = [LIMITS[0]!];
    await client.hset(`${prefix}{a}:r`, "lburst", "garbage");
    await expect(store.consume({ key: "a", limits, cost: 1 })).rejects.toSatisfy(unavailable);
    await client.hset(`${prefix}{b}:r`, "x", "soon");
    await expect(store.consume({ key: "b", limits, cost: 1 })).rejects.toSatisfy(unavailable);
    await client.hset(`${prefix}{c}:r`, "b", "");
    await expect(store.consume({ key: "c", limits, cost: 1 })).rejects.toSatisfy(unavailable);
    await client.hset(`${prefix}{d}:r`, "e", "1", "rx", "12345");
    await expect(store.consume({ key: "d", limits, cost: 1 })).rejects.toSatisfy(unavailable);
    await client.set(`${prefix}{e}:r`, "not a hash");
    await expect(store.consume({ key: "e", limits, cost: 1 })).rejects.toSatisfy(unavailable);
    await expect(store.block("e", 1_000)).rejects.toSatisfy(unavailable);
    // A well-formed state holding NaN (it compares false everywhere, so GCRA would read it as idle).
    const nan = Buffer.alloc(48);
    for (const [i, v] of [4, 1_000, Date.now() + DAY_MS, Number.NaN, 0, 0].entries()) {
      nan.writeDoubleLE(v, 8 * i);
    }
    await client.hset(`${prefix}{g}:r`, "lburst", nan);
    await expect(store.consume({ key: "g", limits, cost: 1 })).rejects.toSatisfy(unavailable);
    await client.set(`${prefix}{f}:c`, "not a sorted set");
    await expect(store.acquire("f", "lease", 1, 1_000)).rejects.toSatisfy(unavailable);
  });

  it("settles a reservation written by the earlier two-double layout (no consume time)", async () => {
    const prefix = `${PREFIX}legacy:`;
    const store = redisStore({ client, prefix });
    const limits = [LIMITS[2]!]; // the day-long window: the test never straddles a window
    const taken = await store.consume({ key: "k", limits, cost: 3 });
    expect(taken.allowed).toBe(true);
    const legacy = Buffer.alloc(16);
    legacy.writeDoubleLE(taken.nowMs + 60_000, 0); // expiresAt
    legacy.writeDoubleLE(3, 8); // amount
    await client.hset(`${prefix}{k}:r`, "rold", legacy);
    expect(await store.settle("k", limits, "old", "release")).toBe(true);
    const after = await store.consume({ key: "k", limits, cost: 0 });
    expect(after.limits[0]?.remaining).toBe(taken.limits[0]!.remaining + 3);
    expect(await store.settle("k", limits, "old", "release")).toBe(false);
  });

  it("rejects with ERR_RATELIMIT_STORE_UNAVAILABLE within timeoutMs when Redis hangs, and recovers", async () => {
    const proxy = await stallProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
    const viaProxy = new Redis(proxy.port, "127.0.0.1", { enableAutoPipelining: true });
    try {
      const store = redisStore({ client: viaProxy, prefix: PREFIX, timeoutMs: 100 });
      const key = `hang:${randomUUID()}`;
      expect((await store.consume({ key, limits: LIMITS, cost: 1 })).allowed).toBe(true);
      proxy.stall();
      const started = performance.now();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => store.consume({ key, limits: LIMITS, cost: 1 })),
      );
      const elapsed = performance.now() - started;
      expect(results.every((r) => r.status === "rejected" && unavailable(r.reason))).toBe(true);
      expect(elapsed).toBeGreaterThanOrEqual(99);
      expect(elapsed).toBeLessThan(100 + 150);
      const error = (results[0] as PromiseRejectedResult).reason;
      expect(error.status).toBe(503);
      expect(error.message).not.toContain(key);
      proxy.resume();
      await vi.waitFor(async () => {
        expect((await store.consume({ key, limits: LIMITS, cost: 0 })).allowed).toBe(true);
      });
      await store.close();
    } finally {
      viaProxy.disconnect();
      await proxy.close();
    }
  });

  it("rejects within timeoutMs when nothing listens on the Redis port", async () => {
    const down = new Redis(await closedPort(), "127.0.0.1", {
      lazyConnect: true,
      maxRetriesPerRequest: null,
    });
    down.on("error", () => {});
    try {
      const store = redisStore({ client: down, timeoutMs: 80 });
      const started = performance.now();
      await expect(store.consume({ key: "k", limits: LIMITS, cost: 1 })).rejects.toSatisfy(unavailable);
      await expect(store.acquire("k", "l", 1, 1_000)).rejects.toSatisfy(unavailable);
      expect(performance.now() - started).toBeLessThan(2 * 80 + 200);
    } finally {
      down.disconnect();
    }
  });
});

describe("redisStore without a server", () => {
  const fake = (reply: unknown) => ({
    evalsha: async () => reply,
    eval: async () => reply,
  });
  const limits = [LIMITS[0]!];

  it.each([
    ["a string", "OK"],
    ["null", null],
    ["too short", [1, 1, 0]],
    ["too long", [1, 1, 0, 1, 1, 0, 9]],
    ["an allowed flag of 2", [2, 1, 0, 1, 1, 0]],
    ["a non-numeric element", [1, 1, 0, "many", 1, 0]],
    ["an empty string element", [1, 1, 0, "", 1, 0]],
    ["a negative remaining", [1, 1, 0, -1, 1, 0]],
    ["an object", { allowed: true }],
  ])("treats a consume reply that is %s as an outage, never as an admission", async (_label, reply) => {
    const store = redisStore({ client: fake(reply) as never });
    await expect(store.consume({ key: "k", limits, cost: 1 })).rejects.toSatisfy(unavailable);
  });

  it("treats garbage lease and settle replies as an outage", async () => {
    const store = redisStore({ client: fake([1, "x", 0]) as never });
    await expect(store.acquire("k", "l", 1, 1_000)).rejects.toSatisfy(unavailable);
    await expect(store.settle("k", limits, "r", "commit")).rejects.toSatisfy(unavailable);
    await expect(store.release("k", "l")).rejects.toSatisfy(unavailable);
    await expect(redisStore({ client: fake("1") as never }).refund("k", limits, 1)).rejects.toSatisfy(
      unavailable,
    );
  });

  it("maps a client error to ERR_RATELIMIT_STORE_UNAVAILABLE with status 503 and keeps the cause", async () => {
    const cause = new Error("connection reset");
    const store = redisStore({
      client: { evalsha: () => Promise.reject(cause), eval: () => Promise.reject(cause) } as never,
    });
    const error = await store.consume({ key: "k", limits, cost: 1 }).catch((e: unknown) => e);
    expect(unavailable(error)).toBe(true);
    expect((error as { status: number }).status).toBe(503);
    expect((error as Error).cause).toBe(cause);
  });

  it("rejects a call that never answers after timeoutMs", async () => {
    vi.useFakeTimers();
    try {
      const store = redisStore({
        client: { evalsha: () => new Promise(() => {}), eval: () => new Promise(() => {}) } as never,
        timeoutMs: 50,
      });
      const pending = store.consume({ key: "k", limits, cost: 1 }).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(49);
      let settled = false;
      void pending.then(() => {
        settled = true;
      });
      await Promise.resolve();
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(unavailable(await pending)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses invalid options at construction with ERR_CONFIG_INVALID", () => {
    const client = fake([]) as never;
    const refused = (options: unknown, message: RegExp) =>
      expect(() => redisStore(options as never)).toThrow(
        expect.objectContaining({ code: "ERR_CONFIG_INVALID", message: expect.stringMatching(message) }),
      );
    refused({ client, prefx: "x" }, /unknown option "prefx" — did you mean "prefix"\?/);
    refused({ client, timeoutMs: 0 }, /"timeoutMs" must be ≥ 1/);
    refused({ client, timeoutMs: 1.5 }, /"timeoutMs" must be an integer/);
    refused({ client, prefix: "a{b}:" }, /must not contain/);
    refused({ client, prefix: "" }, /"prefix" must be a non-empty string/);
    refused({}, /"client" must be an ioredis/);
    refused({ client: {} }, /"client" must be an ioredis/);
    refused({ client, dangerouslyTestClock: {} }, /must be a Clock/);
    refused("redis", /expected an options object/);
  });

  it("refuses more than 8 limits, or none, in one check", async () => {
    const store = redisStore({ client: fake([]) as never });
    const nine = Array.from({ length: 9 }, (_, i) => ({ ...LIMITS[0]!, name: `l${i}` }));
    await expect(store.consume({ key: "k", limits: nine, cost: 1 })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
    await expect(store.consume({ key: "k", limits: [], cost: 1 })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
    await expect(store.consume({ key: "", limits, cost: 1 })).rejects.toMatchObject({
      code: "ERR_RATELIMIT_INVALID_KEY",
    });
  });

  it("warns once that a test clock replaces Redis time", () => {
    const logger = memoryLogger();
    redisStore({ client: fake([]) as never, dangerouslyTestClock: manualClock(), logger });
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]).toMatchObject({ level: "warn", option: "dangerouslyTestClock" });
  });

  it("does not mutate the options object", () => {
    const options = Object.freeze({ client: fake([]) as never, timeoutMs: 50 });
    expect(() => redisStore(options)).not.toThrow();
  });
});
