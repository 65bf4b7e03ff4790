import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, postgresAvailability, REDIS_URL, redisAvailability } from "../../test/servers.js";
import { isBulwarkError } from "../core/errors.js";
import { postgresCheck, redisCheck } from "./checks.js";
import { health } from "./health.js";

const redis = await redisAvailability();
const postgres = await postgresAvailability();

describe("store checks with stand-in clients", () => {
  it("redisCheck fails on a reply other than PONG", async () => {
    const h = health({ checks: [redisCheck({ ping: async () => "OK" })] });
    expect(await h.ready()).toMatchObject({
      status: "fail",
      checks: {
        "redis:responseTime": [{ componentType: "datastore", status: "fail", output: "check failed" }],
      },
    });
  });

  it("postgresCheck runs select 1", async () => {
    const seen: string[] = [];
    const h = health({ checks: [postgresCheck({ query: async (sql) => seen.push(sql) })] });
    expect((await h.ready()).status).toBe("pass");
    expect(seen).toEqual(["select 1"]);
  });

  it("applies name, timeout and criticality", async () => {
    const check = redisCheck(
      { ping: () => new Promise(() => {}) },
      { name: "cache", timeoutMs: 5, critical: false },
    );
    expect(check).toMatchObject({ name: "cache", timeoutMs: 5, critical: false, componentType: "datastore" });
    const report = await health({ checks: [check] }).ready();
    expect(report).toMatchObject({
      status: "warn",
      checks: { "cache:responseTime": [{ output: "timed out after 5 ms" }] },
    });
  });

  it.each([
    [{ timeoutMs: 0 }, /≥ 1/],
    [{ critical: "no" }, /must be a boolean/],
    [{ nme: "x" }, /did you mean "name"/],
  ])("refuses %j", (options, message) => {
    let caught: unknown;
    try {
      postgresCheck({ query: async () => {} }, options as never);
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    expect(String((caught as Error).message)).toMatch(message);
  });
});

describe.runIf(redis.available)("redisCheck against a real Redis", () => {
  let client: Redis;
  beforeAll(() => {
    redis.assertUnderCi();
    client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
  });
  afterAll(() => client.disconnect());

  it("passes against a live server", async () => {
    await client.connect();
    expect((await health({ checks: [redisCheck(client)] }).ready()).status).toBe("pass");
  });

  it("fails against a closed port", async () => {
    const dead = new Redis({
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on("error", () => {});
    const report = await health({ checks: [redisCheck(dead, { timeoutMs: 2_000 })] }).ready();
    dead.disconnect();
    expect(report.status).toBe("fail");
  });
});

describe.runIf(postgres.available)("postgresCheck against a real PostgreSQL", () => {
  let pool: pg.Pool;
  beforeAll(() => {
    postgres.assertUnderCi();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  });
  afterAll(() => pool.end());

  it("passes against a live server", async () => {
    expect((await health({ checks: [postgresCheck(pool)] }).ready()).status).toBe("pass");
  });

  it("fails against a closed port", async () => {
    const dead = new pg.Pool({ host: "127.0.0.1", port: 1, max: 1, connectionTimeoutMillis: 1_000 });
    const report = await health({ checks: [postgresCheck(dead)] }).ready();
    await dead.end();
    expect(report.status).toBe("fail");
  });
});
