import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL, redisAvailability } from "../../../test/servers.js";
import { isBulwarkError } from "../../core/errors.js";
import { replayStoreContract } from "../../webhooks/replay-store.contract.js";
import { redisReplayStore } from "./webhooks.js";

const redis = await redisAvailability();
const prefix = `bulwark-test:webhooks:${process.pid}:${Math.random().toString(36).slice(2)}:`;

describe.runIf(redis.available)("redisReplayStore", () => {
  let client: Redis;
  beforeAll(() => {
    redis.assertUnderCi();
    client = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    await client.quit();
  });

  replayStoreContract("redis", async () => ({
    store: redisReplayStore({ redis: client, prefix }),
    clock: undefined,
    ttlOf: (key) => client.pttl(prefix + key),
  }));

  it("writes under its prefix with SET NX PX", async () => {
    const store = redisReplayStore({ redis: client, prefix });
    await store.remember("stripe:evt_prefix", 60_000);
    expect(await client.get(`${prefix}stripe:evt_prefix`)).toBe("1");
  });

  it("refuses a missing client", () => {
    try {
      redisReplayStore({ redis: undefined as never });
      expect.unreachable();
    } catch (e) {
      expect(isBulwarkError(e, "ERR_CONFIG_INVALID")).toBe(true);
    }
  });
});
