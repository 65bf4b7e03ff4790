import { randomUUID } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrationSqlV1 } from "../../../test/fixtures/postgres-schema-v1.js";
import { DATABASE_URL, postgresAvailability } from "../../../test/servers.js";
import { manualClock } from "../../core/clock.js";
import { silentLogger } from "../../core/logger.js";
import type { LimitSpec } from "../../ratelimit/types.js";
import { postgresStore, type SqlClient } from "./index.js";

/**
 * Upgrading an installation created by schema version 1 (reservations without a consume time):
 * `migrate()` adds the column, keeps the rows, and every reservation still settles once.
 */
const postgres = await postgresAvailability();
const DAY_MS = 86_400_000;
const LIMITS: readonly LimitSpec[] = [
  { name: "daily", algorithm: "fixed-window", limit: 100, windowMs: DAY_MS },
  { name: "bucket", algorithm: "token-bucket", limit: 100, windowMs: DAY_MS },
];

async function upgradeFromV1(pool: SqlClient, exec: (sql: string) => Promise<unknown>, schema: string) {
  const clock = manualClock(Date.UTC(2026, 0, 1, 10));
  const store = postgresStore({
    pool,
    schema,
    dangerouslyTestClock: clock,
    logger: silentLogger,
    sweepIntervalMs: 0,
  });
  const column = async () =>
    (
      await pool.query(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'rl_reservation' AND column_name = 'consumed_at'",
        [schema],
      )
    ).rows[0] as { n: number };
  const remaining = async () =>
    (await store.consume({ key: "k", limits: LIMITS, cost: 0 })).limits.map((l) => l.remaining);

  // Version 1 installed, and reservations taken by its functions (same call signatures).
  await exec(migrationSqlV1(schema));
  expect(await column()).toEqual({ n: 0 });
  for (const [id, cost, ttlMs] of [
    ["r1", 30, 60_000],
    ["r2", 20, 5_000],
    ["r3", 10, 60_000],
  ] as const) {
    expect(
      (await store.consume({ key: "k", limits: LIMITS, cost, reservation: { id, ttlMs } })).allowed,
    ).toBe(true);
  }
  expect(await remaining()).toEqual([40, 40]);

  await store.migrate();
  expect(await column()).toEqual({ n: 1 });
  const legacy = await pool.query(
    `SELECT id, amount, consumed_at FROM "${schema}".rl_reservation WHERE key = 'k' ORDER BY id`,
  );
  expect(legacy.rows).toEqual([
    { id: "r1", amount: 30, consumed_at: null },
    { id: "r2", amount: 20, consumed_at: null },
    { id: "r3", amount: 10, consumed_at: null },
  ]);
  // The version 1 helpers whose signature changed are gone; one of each remains.
  const helpers = await pool.query(
    `SELECT p.proname AS name, count(*)::int AS n FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
     WHERE s.nspname = $1 AND p.proname IN ('rl_give', 'rl_load', 'rl_expired') GROUP BY p.proname ORDER BY 1`,
    [schema],
  );
  expect(helpers.rows).toEqual([
    { name: "rl_give", n: 1 },
    { name: "rl_load", n: 1 },
  ]);

  // Legacy reservations settle exactly once: released, committed, and refunded on expiry.
  expect(await store.settle("k", LIMITS, "r1", "release")).toBe(true);
  expect(await store.settle("k", LIMITS, "r1", "release")).toBe(false);
  expect(await remaining()).toEqual([70, 70]);
  expect(await store.settle("k", LIMITS, "r3", "commit")).toBe(true);
  expect(await remaining()).toEqual([70, 70]);
  clock.advance(5_000);
  expect(await remaining()).toEqual([90, 90]);
  expect(await store.settle("k", LIMITS, "r2", "release")).toBe(false);
  expect(await remaining()).toEqual([90, 90]);

  // New reservations record their consume time; a second migrate() changes nothing.
  await store.consume({ key: "k", limits: LIMITS, cost: 5, reservation: { id: "r4", ttlMs: 60_000 } });
  const fresh = await pool.query(`SELECT consumed_at FROM "${schema}".rl_reservation WHERE key = 'k'`);
  expect(fresh.rows).toEqual([{ consumed_at: clock.now() }]);
  await store.migrate();
  expect(await remaining()).toEqual([85, 85]);
  expect(await store.settle("k", LIMITS, "r4", "release")).toBe(true);
  expect(await remaining()).toEqual([90, 90]);
}

describe("postgresStore migrate() from schema version 1", () => {
  it("on PGlite: keeps the reservations taken before the upgrade, and each settles once", async () => {
    const db = await PGlite.create();
    try {
      await upgradeFromV1(db, (sql) => db.exec(sql), "bulwark");
    } finally {
      await db.close();
    }
  });

  describe.runIf(postgres.available)("on PostgreSQL", () => {
    const schema = `t_pgmigrate_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
    let pool: pg.Pool;

    beforeAll(() => {
      postgres.assertUnderCi();
      pool = new pg.Pool({ connectionString: DATABASE_URL, max: 3 });
    });

    afterAll(async () => {
      if (pool === undefined) return;
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    });

    it("keeps the reservations taken before the upgrade, and each settles once", async () => {
      await upgradeFromV1(pool, (sql) => pool.query(sql), schema);
    });

    it("does not wait for transactions reading rl_reservation once the schema is current", async () => {
      const store = postgresStore({ pool, schema, sweepIntervalMs: 0 });
      await store.migrate();
      const reader = await pool.connect();
      try {
        await reader.query("BEGIN");
        await reader.query(`SELECT count(*) FROM "${schema}".rl_reservation`);
        // ALTER TABLE … ADD COLUMN IF NOT EXISTS would queue behind the reader for its ACCESS
        // EXCLUSIVE lock (and every check behind it); the migration must not take that lock.
        const outcome = await Promise.race([
          store.migrate().then(() => "migrated"),
          new Promise((resolve) => setTimeout(resolve, 3_000, "waited")),
        ]);
        expect(outcome).toBe("migrated");
      } finally {
        await reader.query("ROLLBACK");
        reader.release();
      }
    });
  });
});
