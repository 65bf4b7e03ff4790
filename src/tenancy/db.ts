import { configError, describe } from "../core/options.js";

/**
 * The tiny database interface bulwark's SQL code needs, satisfied as is by a node-postgres `Pool`,
 * `Client` or `PoolClient` and by a PGlite instance (or transaction). No driver is imported here.
 */
export interface SqlQueryable {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** A node-postgres Pool: hands out one connection per transaction. */
interface PoolLike extends SqlQueryable {
  connect(): Promise<SqlQueryable & { release(error?: Error | boolean): void }>;
  readonly totalCount: number;
  readonly idleCount: number;
}

/** PGlite: runs a callback in a transaction on its single connection. */
interface TransactionRunner extends SqlQueryable {
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
}

/** What bulwark accepts as a database: a pg Pool, Client or PoolClient, or a PGlite instance. */
export type SqlDatabase = SqlQueryable;

function isPool(db: SqlQueryable): db is PoolLike {
  const p = db as Partial<PoolLike>;
  return (
    typeof p.connect === "function" && typeof p.totalCount === "number" && typeof p.idleCount === "number"
  );
}

function isTransactionRunner(db: SqlQueryable): db is TransactionRunner {
  return typeof (db as Partial<TransactionRunner>).transaction === "function";
}

/** Checks a database option (anything with a `query` function). */
export function sqlDatabase(where: string, value: unknown, key = "db"): SqlQueryable {
  if (value === null || typeof value !== "object" || typeof (value as SqlQueryable).query !== "function") {
    throw configError(
      where,
      `"${key}" must be a pg Pool/Client or a PGlite instance, got ${describe(value)}`,
    );
  }
  return value as SqlQueryable;
}

/**
 * Runs `fn` inside one transaction on one connection and commits, or rolls back when it throws.
 * pg Pool: checks a client out (and destroys it if the rollback fails); PGlite: `transaction()`;
 * a single pg Client/PoolClient: BEGIN/COMMIT on it (it must not be inside a transaction already).
 */
export async function inTransaction<T>(db: SqlQueryable, fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
  if (isTransactionRunner(db)) return db.transaction(fn);
  if (isPool(db)) {
    const client = await db.connect();
    let broken: Error | undefined;
    try {
      return await runOn(client, fn, (error) => {
        broken = error;
      });
    } finally {
      client.release(broken ?? false);
    }
  }
  return runOn(db, fn, () => {});
}

async function runOn<T>(
  client: SqlQueryable,
  fn: (tx: SqlQueryable) => Promise<T>,
  onBroken: (error: Error) => void,
): Promise<T> {
  await client.query("BEGIN");
  let result: T;
  try {
    result = await fn(client);
  } catch (error) {
    try {
      await client.query("ROLLBACK");
    } catch (rollbackError) {
      onBroken(rollbackError instanceof Error ? rollbackError : new Error("rollback failed"));
    }
    throw error;
  }
  await client.query("COMMIT");
  return result;
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/** Quotes a (optionally schema-qualified) identifier after checking it is a plain name. */
export function quoteName(
  where: string,
  name: unknown,
  what = "table",
  qualified = what === "table",
): string {
  if (typeof name !== "string" || name.length === 0) {
    throw configError(where, `${what} name must be a non-empty string`);
  }
  const parts = name.split(".");
  if (parts.length > (qualified ? 2 : 1) || !parts.every((p) => IDENT_RE.test(p))) {
    throw configError(
      where,
      `${what} name must be an identifier${qualified ? ", optionally schema-qualified" : ""} (letters, digits, _), got "${name}"`,
    );
  }
  return parts.map((p) => `"${p}"`).join(".");
}
