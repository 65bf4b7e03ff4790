import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DATABASE_URL, postgresAvailability } from "../../../test/servers.js";
import { manualClock } from "../../core/clock.js";
import { isBulwarkError } from "../../core/errors.js";
import { memoryLogger, silentLogger } from "../../core/logger.js";
import type { LimitSpec } from "../../ratelimit/types.js";
import { closedPort, stallProxy } from "../stall-proxy.js";
import { describeRateLimitStoreContract } from "../store-contract.js";
import { postgresStore } from "./index.js";
import { storedState } from "./inspect.js";

const postgres = await postgresAvailability();
const SCHEMA = `t_pgstore_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
const LIMITS: readonly LimitSpec[] = [
  { name: "burst", algorithm: "gcra", limit: 5, windowMs: 1_000 },
  { name: "minute", algorithm: "sliding-window", limit: 60, windowMs: 60_000 },
  { name: "daily", algorithm: "fixed-window", limit: 10_000, windowMs: 86_400_000 },
];

const unavailable = (error: unknown) => isBulwarkError(error, "ERR_RATELIMIT_STORE_UNAVAILABLE");

describe.runIf(postgres.available)("postgresStore on a real PostgreSQL", () => {
  let pool: pg.Pool;

  beforeAll(async () => {
    postgres.assertUnderCi();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 6 });
    await postgresStore({ pool, schema: SCHEMA, sweepIntervalMs: 0 }).migrate();
  });

  afterAll(async () => {
    if (pool === undefined) return;
    await pool.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await pool.end();
  });

  describeRateLimitStoreContract(
    "postgres",
    ({ clock }) =>
      postgresStore({
        pool,
        schema: SCHEMA,
        timeoutMs: 5_000,
        sweepIntervalMs: 0,
        ...(clock === undefined ? {} : { dangerouslyTestClock: clock, logger: silentLogger }),
      }),
    { runs: 60, inspect: (key, spec) => storedState(pool, SCHEMA, key, spec) },
  );

  it("answers a check of three limits with one statement", async () => {
    const store = postgresStore({ pool, schema: SCHEMA, timeoutMs: 5_000, sweepIntervalMs: 0 });
    const query = vi.spyOn(pool, "query");
    try {
      const d = await store.consume({ key: `one:${randomUUID()}`, limits: LIMITS, cost: 1 });
      expect(d.allowed).toBe(true);
      expect(query).toHaveBeenCalledTimes(1);
      expect(String(query.mock.calls[0]?.[0])).toMatch(/^SELECT "t_pgstore_\w+"\.rl_consume\(/);
      // Production calls never send a time: 9 parameters, no p_now.
      expect(query.mock.calls[0]?.[1]).toHaveLength(9);
    } finally {
      query.mockRestore();
    }
  });

  it("migrate() is idempotent and safe to run from several servers at once", async () => {
    const store = postgresStore({ pool, schema: SCHEMA, sweepIntervalMs: 0 });
    await Promise.all([store.migrate(), store.migrate(), store.migrate()]);
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1",
      [SCHEMA],
    );
    expect(rows[0].n).toBe(4);
  });

  it("sweep() deletes keys whose rows have all expired, and only those", async () => {
    const schema = `${SCHEMA}_sw`;
    const clock = manualClock();
    const store = postgresStore({
      pool,
      schema,
      dangerouslyTestClock: clock,
      logger: silentLogger,
      sweepIntervalMs: 0,
    });
    await store.migrate();
    try {
      const shortLimit = [{ name: "s", algorithm: "fixed-window", limit: 5, windowMs: 1_000 }] as const;
      const longLimit = [{ name: "l", algorithm: "fixed-window", limit: 5, windowMs: 60_000 }] as const;
      await store.consume({
        key: "short",
        limits: shortLimit,
        cost: 1,
        reservation: { id: "r", ttlMs: 500 },
      });
      await store.consume({ key: "long", limits: longLimit, cost: 1 });
      await store.acquire("lease", "l1", 1, 5_000);
      clock.advance(10_000);
      expect(await store.sweep()).toBe(2);
      const count = async (table: string) =>
        (await pool.query(`SELECT count(*)::int AS n FROM "${schema}".${table}`)).rows[0].n;
      expect(await count("rl_key")).toBe(1);
      expect(await count("rl_state")).toBe(1);
      expect(await count("rl_reservation")).toBe(0);
      expect(await count("rl_lease")).toBe(0);
      expect((await store.consume({ key: "long", limits: longLimit, cost: 0 })).limits[0]?.remaining).toBe(4);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });

  it("rejects within timeoutMs while another transaction holds the key's lock, then recovers", async () => {
    const store = postgresStore({ pool, schema: SCHEMA, timeoutMs: 150, sweepIntervalMs: 0 });
    const key = `locked:${randomUUID()}`;
    await store.consume({ key, limits: LIMITS, cost: 1 });
    const blocker = await pool.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query(`SELECT 1 FROM "${SCHEMA}".rl_key WHERE key = $1 FOR UPDATE`, [key]);
      const started = performance.now();
      const error = await store.consume({ key, limits: LIMITS, cost: 1 }).catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      expect(unavailable(error)).toBe(true);
      expect((error as { status: number }).status).toBe(503);
      expect((error as Error).message).not.toContain(key);
      expect(elapsed).toBeLessThan(150 + 150);
      // Other keys are not held up by the lock.
      expect((await store.consume({ key: `${key}:other`, limits: LIMITS, cost: 1 })).allowed).toBe(true);
    } finally {
      await blocker.query("ROLLBACK");
      blocker.release();
    }
    const after = await store.consume({ key, limits: LIMITS, cost: 1 });
    expect(after.allowed).toBe(true);
    expect(after.limits[2]?.remaining).toBe(9_998);
  });

  it("rejects within timeoutMs when PostgreSQL hangs, and recovers when it answers again", async () => {
    const url = new URL(DATABASE_URL);
    const proxy = await stallProxy(Number(url.port || 5432), url.hostname);
    url.hostname = "127.0.0.1";
    url.port = String(proxy.port);
    const viaProxy = new pg.Pool({ connectionString: url.toString(), max: 2 });
    try {
      const store = postgresStore({ pool: viaProxy, schema: SCHEMA, timeoutMs: 100, sweepIntervalMs: 0 });
      const key = `hang:${randomUUID()}`;
      expect((await store.consume({ key, limits: LIMITS, cost: 1 })).allowed).toBe(true);
      proxy.stall();
      const started = performance.now();
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => store.consume({ key, limits: LIMITS, cost: 1 })),
      );
      const elapsed = performance.now() - started;
      expect(results.every((r) => r.status === "rejected" && unavailable(r.reason))).toBe(true);
      expect(elapsed).toBeGreaterThanOrEqual(99);
      expect(elapsed).toBeLessThan(100 + 150);
      proxy.resume();
      await vi.waitFor(async () => {
        expect((await store.consume({ key, limits: LIMITS, cost: 0 })).allowed).toBe(true);
      });
      await store.close();
    } finally {
      await proxy.close();
      await viaProxy.end().catch(() => {});
    }
  });

  it("rejects within timeoutMs when nothing listens on the PostgreSQL port", async () => {
    const down = new pg.Pool({
      host: "127.0.0.1",
      port: await closedPort(),
      user: "postgres",
      database: "test",
    });
    try {
      const store = postgresStore({ pool: down, schema: SCHEMA, timeoutMs: 80, sweepIntervalMs: 0 });
      const started = performance.now();
      await expect(store.consume({ key: "k", limits: LIMITS, cost: 1 })).rejects.toSatisfy(unavailable);
      await expect(store.acquire("k", "l", 1, 1_000)).rejects.toSatisfy(unavailable);
      expect(performance.now() - started).toBeLessThan(2 * 80 + 200);
    } finally {
      await down.end();
    }
  });
});

describe("postgresStore without a server", () => {
  const fake = (rows: unknown) => ({ query: async () => ({ rows: rows as unknown[] }) });
  const limits = [LIMITS[0]!];

  it.each([
    ["no row", []],
    ["two rows", [{ r: [1, 1, 0, 1, 1, 0] }, { r: [1, 1, 0, 1, 1, 0] }]],
    ["a string", [{ r: "1,1,0,1,1,0" }]],
    ["too short", [{ r: [1, 1, 0] }]],
    ["an allowed flag of 2", [{ r: [2, 1, 0, 1, 1, 0] }]],
    ["a NaN", [{ r: [1, 1, 0, Number.NaN, 1, 0] }]],
    ["a string element", [{ r: [1, 1, 0, "1", 1, 0] }]],
    ["a negative retry", [{ r: [1, 1, 0, 1, 1, -5] }]],
  ])("treats a consume reply with %s as an outage, never as an admission", async (_label, rows) => {
    const store = postgresStore({ pool: fake(rows), sweepIntervalMs: 0 });
    await expect(store.consume({ key: "k", limits, cost: 1 })).rejects.toSatisfy(unavailable);
  });

  it("treats garbage lease, settle and refund replies as an outage", async () => {
    const store = postgresStore({ pool: fake([{ r: "yes" }]), sweepIntervalMs: 0 });
    await expect(store.acquire("k", "l", 1, 1_000)).rejects.toSatisfy(unavailable);
    await expect(store.settle("k", limits, "r", "commit")).rejects.toSatisfy(unavailable);
    await expect(store.release("k", "l")).rejects.toSatisfy(unavailable);
    await expect(store.refund("k", limits, 1)).rejects.toSatisfy(unavailable);
    await expect(store.block("k", 1_000)).rejects.toSatisfy(unavailable);
  });

  it("refuses invalid options at construction with ERR_CONFIG_INVALID", () => {
    const pool = fake([]);
    const refused = (options: unknown, message: RegExp) =>
      expect(() => postgresStore(options as never)).toThrow(
        expect.objectContaining({ code: "ERR_CONFIG_INVALID", message: expect.stringMatching(message) }),
      );
    refused({ pool, shema: "x" }, /unknown option "shema" — did you mean "schema"\?/);
    refused({ pool, schema: 'x"; DROP TABLE users; --' }, /lower-case SQL identifier/);
    refused({ pool, schema: "Upper" }, /lower-case SQL identifier/);
    refused({ pool, timeoutMs: 0 }, /"timeoutMs" must be ≥ 1/);
    refused({ pool, sweepIntervalMs: -1 }, /"sweepIntervalMs" must be ≥ 0/);
    refused({}, /"pool" must be a pg Pool or a PGlite instance/);
    refused({ pool, dangerouslyTestClock: 5 }, /must be a Clock/);
  });

  it("warns once that a test clock replaces clock_timestamp()", () => {
    const logger = memoryLogger();
    postgresStore({ pool: fake([]), dangerouslyTestClock: manualClock(), logger, sweepIntervalMs: 0 });
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]).toMatchObject({ level: "warn", option: "dangerouslyTestClock" });
  });

  it("refuses an empty key and more than 8 limits", async () => {
    const store = postgresStore({ pool: fake([]), sweepIntervalMs: 0 });
    await expect(store.consume({ key: "", limits, cost: 1 })).rejects.toMatchObject({
      code: "ERR_RATELIMIT_INVALID_KEY",
    });
    const nine = Array.from({ length: 9 }, (_, i) => ({ ...LIMITS[0]!, name: `l${i}` }));
    await expect(store.consume({ key: "k", limits: nine, cost: 1 })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
  });
});
