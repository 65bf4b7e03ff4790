import type { Clock } from "../../core/clock.js";
import { checkKeys } from "../../core/options.js";
import type {
  BeginResult,
  ClaimResult,
  IdempotencyStore,
  LedgerRecord,
  LedgerState,
  ProcessLedger,
} from "../../idempotency/types.js";
import { baseName, clockOption, type PostgresQueryable, queryable, sqlNow, tableName } from "./webhooks.js";

const MS = "* interval '1 millisecond'";

/**
 * The `processOnce` ledger table. `event_id` is the unique key every worker races on; a row moves
 * received → processing → done | failed, and a processing row whose lease expired is taken over.
 */
export function processLedgerSchemaSql(table = "bulwark_process_ledger"): string {
  const t = tableName("processLedgerSchemaSql", table, table);
  return `CREATE TABLE IF NOT EXISTS ${t} (
  event_id text PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('received', 'processing', 'done', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  lease_owner text,
  lease_expires_at timestamptz,
  result jsonb,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ${baseName(t)}_updated_at_idx ON ${t} (updated_at);`;
}

/** The Idempotency-Key table: one row per scoped key, in flight or completed with its response. */
export function idempotencySchemaSql(table = "bulwark_idempotency_keys"): string {
  const t = tableName("idempotencySchemaSql", table, table);
  return `CREATE TABLE IF NOT EXISTS ${t} (
  key text PRIMARY KEY,
  fingerprint text NOT NULL,
  state text NOT NULL CHECK (state IN ('in_flight', 'completed')),
  token text,
  expires_at timestamptz NOT NULL,
  status integer,
  headers jsonb,
  body bytea,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ${baseName(t)}_expires_at_idx ON ${t} (expires_at);`;
}

async function run(client: PostgresQueryable, sql: string): Promise<void> {
  for (const statement of sql.split(";\n")) await client.query(statement);
}

export interface PostgresLedgerOptions {
  /** A pg Pool/Client or a PGlite instance. */
  client: PostgresQueryable;
  /** Table name, optionally schema-qualified. Default: "bulwark_process_ledger". */
  table?: string;
  /** Time source for leases. Default: the database clock (one clock for every worker). */
  clock?: Clock;
}

interface LedgerRow {
  state: LedgerState;
  attempts: number;
  result: unknown;
  last_error: string | null;
  remaining_ms: number | string | null;
}

/** A `processOnce` ledger on PostgreSQL or PGlite; every transition is one atomic statement. */
export function postgresLedger(
  options: PostgresLedgerOptions,
): ProcessLedger & { migrate(): Promise<void>; purge(olderThanMs: number): Promise<number> } {
  const where = "postgresLedger";
  const o = checkKeys(where, options, ["client", "table", "clock"]);
  const client = queryable(where, o.client);
  const table = tableName(where, o.table, "bulwark_process_ledger");
  const clock = clockOption(where, o.clock);
  const now = () => (clock === undefined ? null : clock.now());

  const claimSql = `INSERT INTO ${table} AS l (event_id, state, attempts, lease_owner, lease_expires_at, created_at, updated_at)
VALUES ($1, 'processing', 1, $2, ${sqlNow(4)} + $3::float8 ${MS}, ${sqlNow(4)}, ${sqlNow(4)})
ON CONFLICT (event_id) DO UPDATE SET state = 'processing', attempts = l.attempts + 1,
  lease_owner = excluded.lease_owner, lease_expires_at = excluded.lease_expires_at,
  result = NULL, last_error = NULL, updated_at = excluded.updated_at
WHERE l.state IN ('received', 'failed') OR (l.state = 'processing' AND l.lease_expires_at <= excluded.updated_at)
RETURNING attempts`;
  const selectSql = `SELECT state, attempts, result, last_error,
  greatest(0, extract(epoch FROM (lease_expires_at - ${sqlNow(2)})) * 1000)::float8 AS remaining_ms
FROM ${table} WHERE event_id = $1`;
  const settleSql = (state: "done" | "failed", column: "result" | "last_error") =>
    `UPDATE ${table} SET state = '${state}', ${column} = $3${column === "result" ? "::jsonb" : ""},
  lease_owner = NULL, lease_expires_at = NULL, updated_at = ${sqlNow(4)}
WHERE event_id = $1 AND lease_owner = $2 AND state = 'processing' RETURNING 1`;
  const completeSql = settleSql("done", "result");
  const failSql = settleSql("failed", "last_error");
  const extendSql = `UPDATE ${table} SET lease_expires_at = ${sqlNow(4)} + $3::float8 ${MS}
WHERE event_id = $1 AND lease_owner = $2 AND state = 'processing' AND lease_expires_at > ${sqlNow(4)} RETURNING 1`;

  function toRecord(eventId: string, row: LedgerRow): LedgerRecord {
    return {
      eventId,
      state: row.state,
      attempts: Number(row.attempts),
      ...(row.state === "done" ? { result: row.result } : {}),
      ...(row.state === "processing" ? { leaseRemainingMs: Number(row.remaining_ms ?? 0) } : {}),
      ...(row.last_error !== null ? { lastError: row.last_error } : {}),
    };
  }

  async function get(eventId: string): Promise<LedgerRecord | undefined> {
    const { rows } = await client.query(selectSql, [eventId, now()]);
    const row = rows[0] as LedgerRow | undefined;
    return row === undefined ? undefined : toRecord(eventId, row);
  }

  return {
    kind: "postgres",
    migrate: () => run(client, processLedgerSchemaSql(table)),
    async receive(eventId) {
      await client.query(
        `INSERT INTO ${table} (event_id, state, attempts) VALUES ($1, 'received', 0) ON CONFLICT (event_id) DO NOTHING`,
        [eventId],
      );
    },
    async claim(eventId, owner, leaseMs): Promise<ClaimResult> {
      for (let tries = 0; tries < 3; tries++) {
        const { rows } = await client.query(claimSql, [eventId, owner, leaseMs, now()]);
        const claimed = rows[0] as { attempts: number } | undefined;
        if (claimed !== undefined) return { claimed: true, attempt: Number(claimed.attempts) };
        const record = await get(eventId);
        if (record !== undefined) return { claimed: false, record };
      }
      throw new Error("postgresLedger: the event row vanished between claim and read three times");
    },
    async complete(eventId, owner, resultJson) {
      return (await client.query(completeSql, [eventId, owner, resultJson, now()])).rows.length === 1;
    },
    async fail(eventId, owner, errorName) {
      return (await client.query(failSql, [eventId, owner, errorName, now()])).rows.length === 1;
    },
    async extend(eventId, owner, leaseMs) {
      return (await client.query(extendSql, [eventId, owner, leaseMs, now()])).rows.length === 1;
    },
    get,
    async purge(olderThanMs) {
      const result = (await client.query(
        `DELETE FROM ${table} WHERE state IN ('done', 'failed') AND updated_at <= ${sqlNow(2)} - $1::float8 ${MS}`,
        [olderThanMs, now()],
      )) as { rowCount?: number | null; affectedRows?: number };
      return result.rowCount ?? result.affectedRows ?? 0;
    },
  };
}

export interface PostgresIdempotencyStoreOptions {
  /** A pg Pool/Client or a PGlite instance. */
  client: PostgresQueryable;
  /** Table name, optionally schema-qualified. Default: "bulwark_idempotency_keys". */
  table?: string;
  /** Time source. Default: the database clock. */
  clock?: Clock;
}

interface KeyRow {
  state: "in_flight" | "completed";
  fingerprint: string;
  status: number | null;
  headers: Array<[string, string]> | null;
  body: Uint8Array | null;
  remaining_ms: number | string;
}

/**
 * An Idempotency-Key store on PostgreSQL or PGlite. Expired rows are taken over in place and purged
 * in small batches on roughly one call in a hundred. Run `migrate()` (or `idempotencySchemaSql()`) first.
 */
export function postgresIdempotencyStore(
  options: PostgresIdempotencyStoreOptions,
): IdempotencyStore & { migrate(): Promise<void>; purgeExpired(): Promise<number> } {
  const where = "postgresIdempotencyStore";
  const o = checkKeys(where, options, ["client", "table", "clock"]);
  const client = queryable(where, o.client);
  const table = tableName(where, o.table, "bulwark_idempotency_keys");
  const clock = clockOption(where, o.clock);
  const now = () => (clock === undefined ? null : clock.now());

  const beginSql = `INSERT INTO ${table} AS k (key, fingerprint, state, token, expires_at, created_at)
VALUES ($1, $2, 'in_flight', $3, ${sqlNow(5)} + $4::float8 ${MS}, ${sqlNow(5)})
ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'in_flight', token = excluded.token,
  expires_at = excluded.expires_at, status = NULL, headers = NULL, body = NULL, created_at = excluded.created_at
WHERE k.expires_at <= ${sqlNow(5)}
RETURNING 1 AS acquired`;
  const selectSql = `SELECT state, fingerprint, status, headers, body,
  greatest(0, extract(epoch FROM (expires_at - ${sqlNow(2)})) * 1000)::float8 AS remaining_ms
FROM ${table} WHERE key = $1 AND expires_at > ${sqlNow(2)}`;
  const completeSql = `UPDATE ${table} SET state = 'completed', token = NULL, status = $3, headers = $4::jsonb,
  body = $5, expires_at = ${sqlNow(7)} + $6::float8 ${MS}
WHERE key = $1 AND token = $2 AND state = 'in_flight' AND expires_at > ${sqlNow(7)} RETURNING 1`;
  const purgeSql = `DELETE FROM ${table} WHERE key IN (
  SELECT key FROM ${table} WHERE expires_at <= ${sqlNow(1)} LIMIT 1000)`;

  async function purgeExpired(): Promise<number> {
    const result = (await client.query(purgeSql, [now()])) as {
      rowCount?: number | null;
      affectedRows?: number;
    };
    return result.rowCount ?? result.affectedRows ?? 0;
  }

  return {
    kind: "postgres",
    migrate: () => run(client, idempotencySchemaSql(table)),
    async begin(key, fingerprint, token, lockMs): Promise<BeginResult> {
      if (Math.random() < 0.01) await purgeExpired();
      for (let tries = 0; tries < 3; tries++) {
        const { rows } = await client.query(beginSql, [key, fingerprint, token, lockMs, now()]);
        if (rows.length === 1) return { state: "acquired" };
        const row = (await client.query(selectSql, [key, now()])).rows[0] as KeyRow | undefined;
        if (row === undefined) continue;
        if (row.state === "in_flight") {
          return { state: "in_flight", fingerprint: row.fingerprint, retryAfterMs: Number(row.remaining_ms) };
        }
        const body = row.body ?? new Uint8Array(0);
        return {
          state: "completed",
          fingerprint: row.fingerprint,
          response: {
            status: Number(row.status),
            headers: row.headers ?? [],
            body: new Uint8Array(body.buffer, body.byteOffset, body.length),
          },
        };
      }
      throw new Error("postgresIdempotencyStore: the key row changed between insert and read three times");
    },
    async complete(key, token, response, ttlMs) {
      const body = Buffer.from(response.body.buffer, response.body.byteOffset, response.body.length);
      const { rows } = await client.query(completeSql, [
        key,
        token,
        response.status,
        JSON.stringify(response.headers),
        body,
        ttlMs,
        now(),
      ]);
      return rows.length === 1;
    },
    async release(key, token) {
      await client.query(`DELETE FROM ${table} WHERE key = $1 AND token = $2 AND state = 'in_flight'`, [
        key,
        token,
      ]);
    },
    purgeExpired,
  };
}
