/**
 * `npm run bench -- ratelimit-redis [--json] [--quick]`
 *
 * bulwark's Redis store against rate-limiter-flexible's `RateLimiterRedis` and rate-limit-redis's
 * store (called the way express-rate-limit calls it: `increment(key)`), on the real Redis of
 * REDIS_URL, 64 checks in flight, interleaved rounds in one process. Every subject gets its own
 * ioredis client with the same options (auto-pipelining on). Checks rotate over 10,000 keys with
 * limits high enough that every check is admitted, so all subjects do the same work: count a hit.
 *
 * Until the limiter lands this measures the store's `consume` directly (the limiter adds no round
 * trip). Round trips per check are counted with `INFO commandstats`: the change in EVALSHA + EVAL
 * calls over a batch of checks, divided by the checks (other clients of a shared Redis can only
 * inflate the figure, never shrink it; the smallest of three batches is reported).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import RedisStore from "rate-limit-redis";
import { RateLimiterRedis, RateLimiterUnion } from "rate-limiter-flexible";
import type { LimitSpec } from "../src/ratelimit/types.js";
import { redisStore } from "../src/stores/redis/index.js";
import { type BenchRow, type BenchSuite, compare } from "./lib.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const IN_FLIGHT = 64;
const KEYS = 10_000;
const HUGE = 1_000_000_000;
const DAY_MS = 86_400_000;

/** A batch of `IN_FLIGHT` concurrent checks over rotating keys. */
function inFlight(check: (key: string) => Promise<unknown>): () => Promise<unknown> {
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
  let next = 0;
  return () => {
    const batch = new Array<Promise<unknown>>(IN_FLIGHT);
    for (let i = 0; i < IN_FLIGHT; i++) {
      batch[i] = check(keys[next] as string);
      next = (next + 1) % KEYS;
    }
    return Promise.all(batch);
  };
}

async function scriptCalls(admin: Redis): Promise<number> {
  const info = await admin.info("commandstats");
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval|evalsha_ro|eval_ro):calls=(\d+)/gm)) {
    calls += Number(m[2]);
  }
  return calls;
}

/** Top-level script calls per check, the smallest of three batches (shared-server noise only adds). */
async function roundTrips(
  admin: Redis,
  check: () => Promise<unknown>,
  checksPerBatch: number,
): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    await check(); // settle any script loading before counting
    const before = await scriptCalls(admin);
    for (let done = 0; done < checksPerBatch; done += IN_FLIGHT) await check();
    const after = await scriptCalls(admin);
    best = Math.min(best, (after - before) / checksPerBatch);
  }
  return best;
}

async function clear(admin: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 5_000);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== "0");
}

export const suite: BenchSuite = {
  name: "ratelimit-redis",
  async run({ quick }) {
    const run = randomUUID().slice(0, 8);
    const prefix = `bulwark-bench:${run}:`;
    const clientOptions = { enableAutoPipelining: true } as const;
    const admin = new Redis(REDIS_URL);
    const clients = {
      bulwark: new Redis(REDIS_URL, clientOptions),
      rlf: new Redis(REDIS_URL, clientOptions),
      rlr: new Redis(REDIS_URL, clientOptions),
    };
    const rounds = quick ? 1 : 5;
    const ms = quick ? 150 : 1_000;
    const rows: BenchRow[] = [];

    try {
      // --- one limit -------------------------------------------------------------------------
      const store = redisStore({ client: clients.bulwark, prefix: `${prefix}b:`, timeoutMs: 1_000 });
      const one: readonly LimitSpec[] = [
        { name: "minute", algorithm: "fixed-window", limit: HUGE, windowMs: 60_000 },
      ];
      const rlfOne = new RateLimiterRedis({
        storeClient: clients.rlf,
        keyPrefix: `${prefix}rlf1`,
        points: HUGE,
        duration: 60,
      });
      const rlr = new RedisStore({
        sendCommand: (command: string, ...args: string[]) =>
          clients.rlr.call(command, ...args) as Promise<number>,
        prefix: `${prefix}rlr:`,
      });
      rlr.init({ windowMs: 60_000 } as Parameters<typeof rlr.init>[0]);

      const oneLimit = {
        bulwark: {
          batch: inFlight((key) => store.consume({ key, limits: one, cost: 1 })),
          opsPerBatch: IN_FLIGHT,
        },
        "rate-limiter-flexible": { batch: inFlight((key) => rlfOne.consume(key)), opsPerBatch: IN_FLIGHT },
        "rate-limit-redis": { batch: inFlight((key) => rlr.increment(key)), opsPerBatch: IN_FLIGHT },
      };
      const r1 = await compare(oneLimit, { rounds, ms });
      const best1 = Math.max(r1["rate-limiter-flexible"]!, r1["rate-limit-redis"]!);
      const case1 = "one limit, 64 in flight: checks/s";
      rows.push(
        {
          suite: "ratelimit-redis",
          case: case1,
          subject: "rate-limiter-flexible",
          value: r1["rate-limiter-flexible"]!,
          unit: "checks/s",
        },
        {
          suite: "ratelimit-redis",
          case: case1,
          subject: "rate-limit-redis",
          value: r1["rate-limit-redis"]!,
          unit: "checks/s",
        },
        {
          suite: "ratelimit-redis",
          case: case1,
          subject: "bulwark",
          value: r1.bulwark!,
          unit: "checks/s",
          ratio: r1.bulwark! / best1,
          target: "≥ 1.3× the best of RateLimiterRedis and rate-limit-redis",
          pass: r1.bulwark! / best1 >= 1.3,
        },
      );

      // --- three limits in one check ---------------------------------------------------------
      const three: readonly LimitSpec[] = [
        { name: "burst", algorithm: "gcra", limit: HUGE, windowMs: 1_000 },
        { name: "minute", algorithm: "sliding-window", limit: HUGE, windowMs: 60_000 },
        { name: "daily", algorithm: "fixed-window", limit: HUGE, windowMs: DAY_MS },
      ];
      const rlfThree = new RateLimiterUnion(
        new RateLimiterRedis({
          storeClient: clients.rlf,
          keyPrefix: `${prefix}rlf-burst`,
          points: HUGE,
          duration: 1,
        }),
        new RateLimiterRedis({
          storeClient: clients.rlf,
          keyPrefix: `${prefix}rlf-minute`,
          points: HUGE,
          duration: 60,
        }),
        new RateLimiterRedis({
          storeClient: clients.rlf,
          keyPrefix: `${prefix}rlf-daily`,
          points: HUGE,
          duration: 86_400,
        }),
      );
      const threeLimits = {
        bulwark: {
          batch: inFlight((key) => store.consume({ key, limits: three, cost: 1 })),
          opsPerBatch: IN_FLIGHT,
        },
        "rate-limiter-flexible": { batch: inFlight((key) => rlfThree.consume(key)), opsPerBatch: IN_FLIGHT },
      };
      const r3 = await compare(threeLimits, { rounds, ms });
      const case3 = "three limits (burst + minute + daily) in one check, 64 in flight: checks/s";
      rows.push(
        {
          suite: "ratelimit-redis",
          case: case3,
          subject: "rate-limiter-flexible (RateLimiterUnion of 3)",
          value: r3["rate-limiter-flexible"]!,
          unit: "checks/s",
        },
        {
          suite: "ratelimit-redis",
          case: case3,
          subject: "bulwark",
          value: r3.bulwark!,
          unit: "checks/s",
          ratio: r3.bulwark! / r3["rate-limiter-flexible"]!,
          target: "≥ 3× rate-limiter-flexible enforcing the same three limits",
          pass: r3.bulwark! / r3["rate-limiter-flexible"]! >= 3,
        },
      );

      // --- round trips per check ------------------------------------------------------------
      const checks = quick ? 640 : 6_400;
      const tripsBulwark = await roundTrips(admin, threeLimits.bulwark.batch, checks);
      const tripsRlf = await roundTrips(admin, threeLimits["rate-limiter-flexible"].batch, checks);
      const caseTrips = "three limits: round trips per check (INFO commandstats, EVALSHA+EVAL Δ ÷ checks)";
      rows.push(
        {
          suite: "ratelimit-redis",
          case: caseTrips,
          subject: "rate-limiter-flexible (RateLimiterUnion of 3)",
          value: tripsRlf,
          unit: "round trips",
        },
        {
          suite: "ratelimit-redis",
          case: caseTrips,
          subject: "bulwark",
          value: tripsBulwark,
          unit: "round trips",
          target: "1 round trip per check",
          pass: tripsBulwark <= 1.0001,
        },
      );
    } finally {
      await clear(admin, prefix);
      admin.disconnect();
      for (const c of Object.values(clients)) c.disconnect();
    }
    return rows;
  },
};
