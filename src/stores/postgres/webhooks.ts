import type { Clock } from "../../core/clock.js";
import { checkKeys, configError, describe, string } from "../../core/options.js";
import type { ReplayStore } from "../../webhooks/types.js";

/**
 * What the Postgres stores need from a client: `query(text, params)` resolving `{ rows }`.
 * A `pg` Pool or Client and a PGlite instance all fit.
 */
export interface PostgresQueryable {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

const TABLE_RE = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;

/** Validates a (optionally schema-qualified) lower-case table name; it is interpolated into SQL. */
export function tableName(where: string, value: unknown, fallback: string): string {
  const name = string(where, "table", value, fallback);
  if (!TABLE_RE.test(name)) {
    throw configError(
      where,
      `"table" must be a lower-case identifier, optionally schema-qualified, got "${name}"`,
    );
  }
  return name;
}

/** The table part of a possibly schema-qualified name, for index names. */
export function baseName(table: string): string {
  return table.slice(table.indexOf(".") + 1);
}

/** Checks and returns a Postgres client option. */
export function queryable(where: string, value: unknown): PostgresQueryable {
  if (
    value === null ||
    typeof value !== "object" ||
    typeof (value as PostgresQueryable).query !== "function"
  ) {
    throw configError(
      where,
      `"client" must be a pg Pool/Client or a PGlite instance, got ${describe(value)}`,
    );
  }
  return value as PostgresQueryable;
}

/** Checks an optional clock option. */
export function clockOption(where: string, value: unknown): Clock | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object" || typeof (value as Clock).now !== "function") {
    throw configError(where, `"clock" must have a now() function, got ${describe(value)}`);
  }
  return value as Clock;
}

/**
 * SQL for "now": the injected clock's time when one is given (passed as ms in parameter `$n`),
 * the database's `clock_timestamp()` otherwise, so every instance shares one clock.
 */
export function sqlNow(n: number): string {
  return `coalesce(to_timestamp($${n}::float8 / 1000), clock_timestamp())`;
}

/** The replay table's DDL (idempotent; safe to run at every start). */
export function webhookReplaySchemaSql(table = "bulwark_webhook_replay"): string {
  const t = tableName("webhookReplaySchemaSql", table, table);
  return `CREATE TABLE IF NOT EXISTS ${t} (
  key text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ${baseName(t)}_expires_at_idx ON ${t} (expires_at);`;
}

export interface PostgresReplayStoreOptions {
  /** A pg Pool/Client or a PGlite instance. */
  client: PostgresQueryable;
  /** Table name, optionally schema-qualified. Default: "bulwark_webhook_replay". */
  table?: string;
  /** Time source. Default: the database clock. */
  clock?: Clock;
}

/**
 * A replay store on PostgreSQL/PGlite: `INSERT … ON CONFLICT (key) DO UPDATE … WHERE expired`, so a
 * key is fresh exactly once per window across every instance. Expired rows are purged in small
 * batches on roughly one call in a hundred. Run `migrate()` (or `webhookReplaySchemaSql()`) first.
 */
export function postgresReplayStore(
  options: PostgresReplayStoreOptions,
): ReplayStore & { migrate(): Promise<void>; purgeExpired(): Promise<number> } {
  const where = "postgresReplayStore";
  const o = checkKeys(where, options, ["client", "table", "clock"]);
  const client = queryable(where, o.client);
  const table = tableName(where, o.table, "bulwark_webhook_replay");
  const clock = clockOption(where, o.clock);
  const now = () => (clock === undefined ? null : clock.now());

  const remember = `INSERT INTO ${table} AS r (key, expires_at)
VALUES ($1, ${sqlNow(3)} + $2::float8 * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE r.expires_at <= ${sqlNow(3)}
RETURNING 1 AS fresh`;
  const purge = `DELETE FROM ${table} WHERE key IN (
  SELECT key FROM ${table} WHERE expires_at <= ${sqlNow(1)} LIMIT 1000)`;

  async function purgeExpired(): Promise<number> {
    const result = (await client.query(purge, [now()])) as {
      rowCount?: number | null;
      affectedRows?: number;
    };
    return result.rowCount ?? result.affectedRows ?? 0;
  }

  return {
    kind: "postgres",
    async migrate() {
      for (const statement of webhookReplaySchemaSql(table).split(";\n")) await client.query(statement);
    },
    async remember(key, ttlMs) {
      const { rows } = await client.query(remember, [key, Math.max(1, ttlMs), now()]);
      if (Math.random() < 0.01) await purgeExpired();
      return rows.length === 1;
    },
    async forget(key) {
      await client.query(`DELETE FROM ${table} WHERE key = $1`, [key]);
    },
    purgeExpired,
  };
}
