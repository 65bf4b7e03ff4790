import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL, redisAvailability } from "../../../test/servers.js";
import { describeOneTimeStoreContract } from "../../auth/store-contract.js";
import { redisOneTimeTokenStore } from "./auth.js";

const redis = await redisAvailability();
const prefix = `bulwark-test:auth:${Math.random().toString(36).slice(2, 10)}:`;

describe.runIf(redis.available)("redisOneTimeTokenStore on Redis", () => {
  let client: Redis;
  beforeAll(() => {
    redis.assertUnderCi();
    client = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    if (client !== undefined) {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
      client.disconnect();
    }
  });

  describeOneTimeStoreContract("Redis", async () => {
    const c = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    return { store: redisOneTimeTokenStore({ redis: c, prefix }), close: async () => c.disconnect() };
  });

  it("keeps every key on one Cluster slot and expires tokens with their lifetime", async () => {
    const store = redisOneTimeTokenStore({ redis: client, prefix });
    const hash = "a".repeat(64);
    await store.insert({
      tokenHash: hash,
      purpose: "magic-link",
      accountId: "slot-check",
      epoch: "e",
      data: undefined,
      createdAtMs: 1_000,
      expiresAtMs: 901_000,
    });
    const keys = await client.keys(`${prefix}*`);
    expect(keys.every((k) => k.includes("{ott}"))).toBe(true);
    const ttl = await client.pttl(`${prefix}{ott}:t:${hash}`);
    expect(ttl).toBeGreaterThan(900_000);
    expect(ttl).toBeLessThanOrEqual(960_000);
    expect(await store.take(hash, "magic-link")).toMatchObject({ accountId: "slot-check", data: undefined });
  });

  it("rejects a client that is not ioredis and unknown options", () => {
    expect(() => redisOneTimeTokenStore({ redis: {} as never })).toThrow(/ioredis/);
    expect(() => redisOneTimeTokenStore({ redis: client, prefx: "x" } as never)).toThrow(
      /did you mean "prefix"/,
    );
  });
});
