import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL, redisAvailability } from "../../../test/servers.js";
import { manualClock } from "../../core/clock.js";
import { isBulwarkError } from "../../core/errors.js";
import { idempotencyStoreContract, ledgerContract } from "../../idempotency/ledger.contract.js";
import { processOnce } from "../../idempotency/process-once.js";
import { redisIdempotencyStore, redisLedger } from "./idempotency.js";

const redis = await redisAvailability();
const prefix = `bulwark-test:idempotency:${process.pid}:${Math.random().toString(36).slice(2)}:`;

describe.runIf(redis.available)("Redis ledger and idempotency store", () => {
  let client: Redis;
  beforeAll(() => {
    redis.assertUnderCi();
    client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    await client.quit();
  });

  ledgerContract("redis", async () => {
    const clock = manualClock(Date.now());
    return { ledger: redisLedger({ redis: client, prefix: `${prefix}ledger:`, clock }), clock };
  });

  idempotencyStoreContract("redis", async () => {
    const clock = manualClock(Date.now());
    return { store: redisIdempotencyStore({ redis: client, prefix: `${prefix}keys:`, clock }), clock };
  });

  it("keeps leases on Redis TIME when no clock is injected", async () => {
    const ledger = redisLedger({ redis: client, prefix: `${prefix}servertime:` });
    expect(await ledger.claim("evt_t", "a", 30_000)).toEqual({ claimed: true, attempt: 1 });
    const lost = await ledger.claim("evt_t", "b", 30_000);
    if (lost.claimed) throw new Error("expected the claim to lose");
    expect(lost.record.leaseRemainingMs).toBeGreaterThan(25_000);
    expect(lost.record.leaseRemainingMs).toBeLessThanOrEqual(30_000);
    expect(await ledger.extend("evt_t", "a", 30_000)).toBe(true);
    expect(await ledger.complete("evt_t", "a", '{"ok":true}')).toBe(true);
    expect(await processOnce("evt_t", () => 1, { ledger })).toEqual({
      status: "duplicate",
      result: { ok: true },
      attempts: 1,
    });
    const pttl = await client.pttl(`${prefix}servertime:evt_t`);
    expect(pttl).toBeGreaterThan(6 * 24 * 3_600_000);

    const store = redisIdempotencyStore({ redis: client, prefix: `${prefix}servertime-keys:` });
    expect(await store.begin("k", "fp", "t1", 30_000)).toEqual({ state: "acquired" });
    const busy = await store.begin("k", "fp", "t2", 30_000);
    expect(busy).toMatchObject({ state: "in_flight", fingerprint: "fp" });
    expect(
      await store.complete("k", "t1", { status: 200, headers: [], body: new Uint8Array([0, 255]) }, 60_000),
    ).toBe(true);
    expect(await client.pttl(`${prefix}servertime-keys:k`)).toBeGreaterThan(50_000);
  });

  it("falls back to EVAL when the server answers NOSCRIPT", async () => {
    let noscripts = 0;
    const forgetful = new Proxy(client, {
      get(target, name, receiver) {
        if (name === "evalsha" || name === "callBuffer") {
          return (...args: unknown[]) => {
            if (name === "callBuffer" && args[0] !== "EVALSHA")
              return (Reflect.get(target, name, receiver) as (...a: unknown[]) => unknown).apply(
                target,
                args,
              );
            noscripts++;
            return Promise.reject(new Error("NOSCRIPT No matching script. Please use EVAL."));
          };
        }
        const value = Reflect.get(target, name, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const ledger = redisLedger({ redis: forgetful, prefix: `${prefix}noscript:` });
    expect(await ledger.claim("evt_n", "a", 1_000)).toEqual({ claimed: true, attempt: 1 });
    const store = redisIdempotencyStore({ redis: forgetful, prefix: `${prefix}noscript-keys:` });
    expect(await store.begin("k", "fp", "t", 1_000)).toEqual({ state: "acquired" });
    expect(noscripts).toBe(2);
  });

  it("refuse bad options", () => {
    for (const make of [
      () => redisLedger({ redis: client, retentionMs: 5 }),
      () => redisLedger({ redis: {} as never }),
      () => redisIdempotencyStore({ redis: client, prefx: "x" } as never),
      () => redisIdempotencyStore({ redis: client, clock: {} as never }),
    ]) {
      try {
        make();
        expect.unreachable();
      } catch (e) {
        expect(isBulwarkError(e, "ERR_CONFIG_INVALID")).toBe(true);
      }
    }
  });
});
