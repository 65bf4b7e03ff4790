import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, postgresAvailability, REDIS_URL, redisAvailability } from "../../test/servers.js";
import { forkProofWorkers, type ProofWorkers } from "./multiprocess-proof.js";
import { postgresStore } from "./postgres/store.js";

/**
 * The distributed proof: 4 OS processes, each with its own client and pool, fire 250 checks at
 * once on one key with a limit of 100. Exactly 100 are admitted — also when the four app clocks are
 * skewed by −60 s, −20 s, +20 s and +60 s, since the stores never read the app clock.
 */
const redis = await redisAvailability();
const postgres = await postgresAvailability();
const RUN = randomUUID().replaceAll("-", "").slice(0, 10);
const REDIS_PREFIX = `bulwark-test:multiprocess:${RUN}:`;
const SCHEMA = `t_multiprocess_${RUN}`;
const SKEWS_MS = [-60_000, -20_000, 20_000, 60_000];

describe.runIf(redis.available || postgres.available)("stores across 4 processes", () => {
  let workers: ProofWorkers | undefined;
  let pool: pg.Pool | undefined;

  beforeAll(async () => {
    redis.assertUnderCi();
    postgres.assertUnderCi();
    if (postgres.available) {
      pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
      await postgresStore({ pool, schema: SCHEMA, sweepIntervalMs: 0 }).migrate();
    }
    workers = await forkProofWorkers(
      {
        ...(redis.available ? { redisPrefix: REDIS_PREFIX } : {}),
        ...(postgres.available ? { postgresSchema: SCHEMA } : {}),
      },
      SKEWS_MS,
    );
  }, 60_000);

  afterAll(async () => {
    await workers?.close();
    if (pool !== undefined) {
      await pool.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
      await pool.end();
    }
    if (redis.available) {
      const client = new Redis(REDIS_URL);
      let cursor = "0";
      do {
        const [next, keys] = await client.scan(cursor, "MATCH", `${REDIS_PREFIX}*`, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) await client.del(...keys);
      } while (cursor !== "0");
      client.disconnect();
    }
  });

  for (const store of ["redis", "postgres"] as const) {
    const available = store === "redis" ? redis.available : postgres.available;
    it.runIf(available)(
      `${store}: 1,000 concurrent checks from 4 processes on a limit of 100 admit exactly 100`,
      async () => {
        expect(await workers!.phase(store, `even:${randomUUID()}`, 250, false)).toEqual({
          allowed: 100,
          failed: 0,
        });
      },
    );

    it.runIf(available)(`${store}: app clocks skewed by ±60 s admit no more`, async () => {
      expect(await workers!.phase(store, `skewed:${randomUUID()}`, 250, true)).toEqual({
        allowed: 100,
        failed: 0,
      });
    });
  }
});
