import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, postgresAvailability } from "../../../test/servers.js";
import { manualClock } from "../../core/clock.js";
import { isBulwarkError } from "../../core/errors.js";
import { idempotencyStoreContract, ledgerContract } from "../../idempotency/ledger.contract.js";
import { processOnce } from "../../idempotency/process-once.js";
import { postgresIdempotencyStore, postgresLedger, processLedgerSchemaSql } from "./idempotency.js";

const postgres = await postgresAvailability();
const schema = `t_idempotency_${Math.random().toString(36).slice(2, 10)}`;
const ledgerTable = `${schema}.bulwark_process_ledger`;
const keysTable = `${schema}.bulwark_idempotency_keys`;

describe.runIf(postgres.available)("Postgres ledger and idempotency store on PostgreSQL", () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    postgres.assertUnderCi();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    await postgresLedger({ client: pool, table: ledgerTable }).migrate();
    await postgresIdempotencyStore({ client: pool, table: keysTable }).migrate();
  });
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  });

  ledgerContract("postgres", async () => {
    const clock = manualClock(Date.now());
    return { ledger: postgresLedger({ client: pool, table: ledgerTable, clock }), clock };
  });

  idempotencyStoreContract("postgres", async () => {
    const clock = manualClock(Date.now());
    return { store: postgresIdempotencyStore({ client: pool, table: keysTable, clock }), clock };
  });

  it("keeps leases on the database clock when no clock is injected", async () => {
    const ledger = postgresLedger({ client: pool, table: ledgerTable });
    expect(await ledger.claim("evt_db", "a", 30_000)).toEqual({ claimed: true, attempt: 1 });
    const lost = await ledger.claim("evt_db", "b", 30_000);
    if (lost.claimed) throw new Error("expected the claim to lose");
    expect(lost.record.leaseRemainingMs).toBeGreaterThan(25_000);
    expect(lost.record.leaseRemainingMs).toBeLessThanOrEqual(30_000);
    expect(await ledger.complete("evt_db", "a", '{"ok":true}')).toBe(true);
    expect(await processOnce("evt_db", () => 1, { ledger })).toEqual({
      status: "duplicate",
      result: { ok: true },
      attempts: 1,
    });
    const store = postgresIdempotencyStore({ client: pool, table: keysTable });
    expect(await store.begin("db-key", "fp", "t1", 30_000)).toEqual({ state: "acquired" });
    expect(await store.begin("db-key", "fp", "t2", 30_000)).toMatchObject({
      state: "in_flight",
      fingerprint: "fp",
    });
  });

  it("purges settled events older than a cutoff", async () => {
    const clock = manualClock(Date.now());
    const ledger = postgresLedger({ client: pool, table: ledgerTable, clock });
    await ledger.claim("evt_purge", "a", 1_000);
    await ledger.complete("evt_purge", "a", "1");
    clock.advance(10_000);
    expect(await ledger.purge(5_000)).toBeGreaterThanOrEqual(1);
    expect(await ledger.get("evt_purge")).toBeUndefined();
  });

  it("ships a migration with a unique event id and a state check", () => {
    const sql = processLedgerSchemaSql(ledgerTable);
    expect(sql).toContain("event_id text PRIMARY KEY");
    expect(sql).toContain("CHECK (state IN ('received', 'processing', 'done', 'failed'))");
  });

  it("refuse bad options", () => {
    for (const make of [
      () => postgresLedger({ client: pool, table: "Bad Name" }),
      () => postgresLedger({ client: undefined as never }),
      () => postgresIdempotencyStore({ client: pool, tabel: "x" } as never),
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
