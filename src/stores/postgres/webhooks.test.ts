import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, postgresAvailability } from "../../../test/servers.js";
import { manualClock } from "../../core/clock.js";
import { isBulwarkError } from "../../core/errors.js";
import { replayStoreContract } from "../../webhooks/replay-store.contract.js";
import { postgresReplayStore, webhookReplaySchemaSql } from "./webhooks.js";

const postgres = await postgresAvailability();
const schema = `t_webhooks_${Math.random().toString(36).slice(2, 10)}`;
const table = `${schema}.bulwark_webhook_replay`;

describe.runIf(postgres.available)("postgresReplayStore on PostgreSQL", () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    postgres.assertUnderCi();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 8 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    await postgresReplayStore({ client: pool, table }).migrate();
  });
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  });

  replayStoreContract("postgres", async () => {
    const clock = manualClock(Date.now());
    return { store: postgresReplayStore({ client: pool, table, clock }), clock };
  });

  it("uses the database clock when no clock is injected", async () => {
    const store = postgresReplayStore({ client: pool, table });
    expect(await store.remember("server-time", 60_000)).toBe(true);
    expect(await store.remember("server-time", 60_000)).toBe(false);
    const { rows } = await pool.query(
      `SELECT extract(epoch FROM expires_at - now()) * 1000 AS ms FROM ${table} WHERE key = 'server-time'`,
    );
    expect(Number(rows[0].ms)).toBeGreaterThan(55_000);
    expect(Number(rows[0].ms)).toBeLessThanOrEqual(60_000);
  });

  it("purges expired rows and keeps live ones", async () => {
    const clock = manualClock(Date.now());
    const store = postgresReplayStore({ client: pool, table, clock });
    await store.remember("purge-old", 1_000);
    await store.remember("purge-live", 600_000);
    clock.advance(2_000);
    expect(await store.purgeExpired()).toBeGreaterThanOrEqual(1);
    const { rows } = await pool.query(`SELECT key FROM ${table} WHERE key LIKE 'purge-%'`);
    expect(rows.map((r) => r.key)).toEqual(["purge-live"]);
  });

  it("migrates idempotently", async () => {
    await postgresReplayStore({ client: pool, table }).migrate();
    expect(webhookReplaySchemaSql(table)).toContain(`CREATE TABLE IF NOT EXISTS ${table}`);
  });

  it("refuses a table name that is not a plain identifier", () => {
    for (const bad of ["replay; DROP TABLE x", "Replay", "a.b.c", ""]) {
      try {
        postgresReplayStore({ client: pool, table: bad });
        expect.unreachable();
      } catch (e) {
        expect(isBulwarkError(e, "ERR_CONFIG_INVALID")).toBe(true);
      }
    }
  });
});
