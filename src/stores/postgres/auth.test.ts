import { createHash } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, postgresAvailability } from "../../../test/servers.js";
import { oneTimeTokens } from "../../auth/onetime.js";
import { refreshTokens } from "../../auth/refresh.js";
import { describeAuthStoreContract } from "../../auth/store-contract.js";
import { manualClock } from "../../core/clock.js";
import { memoryLogger } from "../../core/logger.js";
import { authMigrationSql, authMigrations, postgresAuthStore } from "./auth.js";

const postgres = await postgresAvailability();
const schema = `t_auth_${Math.random().toString(36).slice(2, 10)}`;

describe.runIf(postgres.available)("postgresAuthStore on PostgreSQL", () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    postgres.assertUnderCi();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
  });
  afterAll(async () => {
    await pool?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool?.end();
  });

  describeAuthStoreContract("PostgreSQL (pg Pool, 10 connections)", async () => {
    const contractPool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
    const store = postgresAuthStore({ client: contractPool, schema });
    await store.migrate();
    return { store, close: () => contractPool.end() };
  });

  it("migrates idempotently, also when several instances start at once", async () => {
    const pools = [1, 2, 3].map(() => new pg.Pool({ connectionString: DATABASE_URL, max: 2 }));
    try {
      await Promise.all(pools.map((p) => postgresAuthStore({ client: p, schema }).migrate()));
      await postgresAuthStore({ client: pool, schema }).migrate();
      const { rows } = await pool.query(
        `SELECT version FROM ${schema}.bulwark_auth_migrations ORDER BY version`,
      );
      expect(rows).toEqual(authMigrations({ schema }).map((m) => ({ version: m.version })));
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("stores refresh and one-time tokens only as SHA-256 digests", async () => {
    const store = postgresAuthStore({ client: pool, schema });
    await store.migrate();
    const clock = manualClock();
    const sessions = refreshTokens({ store, clock, logger: memoryLogger() });
    const issued = await sessions.issue("digest-check");
    const once = oneTimeTokens({ store, clock, currentEpoch: async () => "e" });
    const { token } = await once.issue({ accountId: "digest-check", purpose: "verify-email" });
    const dump = JSON.stringify([
      (await pool.query(`SELECT *, encode(token_hash, 'hex') AS hex FROM ${schema}.bulwark_refresh_tokens`))
        .rows,
      (await pool.query(`SELECT *, encode(token_hash, 'hex') AS hex FROM ${schema}.bulwark_one_time_tokens`))
        .rows,
      (await pool.query(`SELECT * FROM ${schema}.bulwark_refresh_families`)).rows,
    ]);
    expect(dump).not.toContain(issued.token);
    expect(dump).not.toContain(token);
    expect(dump).toContain(createHash("sha256").update(issued.token).digest("hex"));
    expect(dump).toContain(createHash("sha256").update(token).digest("hex"));
  });

  it("ships the same DDL as a script for external migration tools", async () => {
    const other = `${schema}_script`;
    const client = await pool.connect();
    try {
      await client.query(`CREATE SCHEMA ${other}`);
      await client.query(authMigrationSql({ schema: other }));
      await client.query(authMigrationSql({ schema: other })); // IF NOT EXISTS throughout
      const { rows } = await client.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
        [other],
      );
      expect(rows.map((r) => r.table_name)).toEqual([
        "bulwark_one_time_tokens",
        "bulwark_refresh_families",
        "bulwark_refresh_tokens",
      ]);
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS ${other} CASCADE`);
      client.release();
    }
  });

  it("rejects a schema that is not a plain identifier and unknown options", () => {
    expect(() => postgresAuthStore({ client: pool, schema: "x; DROP TABLE y" })).toThrow(/identifier/);
    expect(() => postgresAuthStore({ client: pool, shema: "x" } as never)).toThrow(/did you mean "schema"/);
    expect(() => postgresAuthStore({ client: {} as never })).toThrow(/client/);
  });
});
