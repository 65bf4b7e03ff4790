import { BulwarkError } from "../core/errors.js";
import { checkKeys, configError, describe, integer } from "../core/options.js";
import { envelopePrefix } from "./envelope.js";
import type { Keyring } from "./keyring.js";

const WHERE = "reencryptTable";

/**
 * The little of a SQL client this needs: `query(text, params)` resolving to `{ rows }`.
 * A `pg` Pool or Client and a PGlite instance fit as they are.
 */
export interface SqlClient {
  query(text: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/** Where a value is stored; `aad` maps it to the AAD the application used when sealing it. */
export interface StoredValueLocation {
  table: string;
  column: string;
  id: unknown;
}

export interface ReencryptTableOptions {
  /** A `pg` Pool/Client or PGlite instance. */
  db: SqlClient;
  /** Keyring whose primary is the new key and which still holds every old key. */
  keyring: Keyring;
  /** Table name, optionally schema-qualified (`billing.customers`). */
  table: string;
  /** Primary-key column, used for ordering and the per-row guard. Default `"id"`. */
  idColumn?: string;
  /** Text columns holding bulwark ciphertexts (NULLs are skipped). */
  columns: readonly string[];
  /** The AAD each value was sealed with, e.g. `({ id, column }) => \`users:${id}:${column}\``. */
  aad: (location: StoredValueLocation) => string | Uint8Array;
  /** Rows read per batch. Default 500. Each row is still written by its own statement. */
  batchSize?: number;
  /** Stops the job between rows; the result then has `status: "aborted"`. Run again to resume. */
  signal?: AbortSignal;
  /** Called after every batch with the running totals. */
  onProgress?: (progress: ReencryptProgress) => void;
}

export interface ReencryptProgress {
  /** Rows read that held at least one value under an old key. */
  scanned: number;
  /** Rows rewritten under the primary key. */
  updated: number;
  /** Rows changed by someone else between read and write; left as they are for the next run. */
  conflicts: number;
}

export interface ReencryptResult extends ReencryptProgress {
  status: "done" | "aborted";
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

function quoteIdentifier(where: string, key: string, name: unknown, allowSchema = false): string {
  const parts = typeof name === "string" ? name.split(".") : [];
  const valid =
    parts.length >= 1 && parts.length <= (allowSchema ? 2 : 1) && parts.every((p) => IDENTIFIER.test(p));
  if (!valid) {
    throw configError(
      where,
      `"${key}" must be a plain SQL identifier${allowSchema ? " (optionally schema.table)" : ""}, got ${
        typeof name === "string" ? JSON.stringify(name) : describe(name)
      }`,
    );
  }
  return parts.map((p) => `"${p}"`).join(".");
}

interface ResolvedJob {
  db: SqlClient;
  keyring: Keyring;
  table: string;
  tableSql: string;
  idSql: string;
  columns: readonly string[];
  columnSql: readonly string[];
  aad: (location: StoredValueLocation) => string | Uint8Array;
  batchSize: number;
  signal: AbortSignal | undefined;
  onProgress: ((progress: ReencryptProgress) => void) | undefined;
}

function resolve(options: ReencryptTableOptions): ResolvedJob {
  const opts = checkKeys(WHERE, options, [
    "db",
    "keyring",
    "table",
    "idColumn",
    "columns",
    "aad",
    "batchSize",
    "signal",
    "onProgress",
  ]);
  const db = opts.db as SqlClient | undefined;
  if (!db || typeof db.query !== "function") {
    throw configError(
      WHERE,
      `"db" must have a query(text, params) method (a pg Pool or PGlite), got ${describe(db)}`,
    );
  }
  const ring = opts.keyring as Keyring | undefined;
  if (!ring || typeof ring.reencrypt !== "function" || typeof ring.primary !== "string") {
    throw configError(WHERE, `"keyring" must be a keyring() instance, got ${describe(ring)}`);
  }
  const tableSql = quoteIdentifier(WHERE, "table", opts.table, true);
  const idColumn = opts.idColumn ?? "id";
  const idSql = quoteIdentifier(WHERE, "idColumn", idColumn);
  const columns = opts.columns;
  if (!Array.isArray(columns) || columns.length === 0) {
    throw configError(WHERE, `"columns" must be a non-empty array of column names, got ${describe(columns)}`);
  }
  const columnSql = columns.map((c: unknown, i: number) => quoteIdentifier(WHERE, `columns[${i}]`, c));
  if (new Set(columns).size !== columns.length) throw configError(WHERE, `"columns" lists a column twice`);
  if (columns.includes(idColumn)) throw configError(WHERE, `"columns" must not include the id column`);
  if (typeof opts.aad !== "function") {
    throw configError(
      WHERE,
      `"aad" must be a function ({ table, column, id }) => AAD, got ${describe(opts.aad)}`,
    );
  }
  const batchSize = integer(WHERE, "batchSize", opts.batchSize, 500, { min: 1, max: 100_000 });
  const signal = opts.signal as AbortSignal | undefined;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw configError(WHERE, `"signal" must be an AbortSignal, got ${describe(signal)}`);
  }
  if (opts.onProgress !== undefined && typeof opts.onProgress !== "function") {
    throw configError(WHERE, `"onProgress" must be a function, got ${describe(opts.onProgress)}`);
  }
  return {
    db,
    keyring: ring,
    table: opts.table as string,
    tableSql,
    idSql,
    columns: [...columns],
    columnSql,
    aad: opts.aad as ResolvedJob["aad"],
    batchSize,
    signal,
    onProgress: opts.onProgress as ResolvedJob["onProgress"],
  };
}

/** SQL that is true when a column holds a value not sealed under the primary key. */
function stalePredicate(columnSql: string, prefixParam: string): string {
  return `(${columnSql} IS NOT NULL AND NOT starts_with(${columnSql}, ${prefixParam}))`;
}

/**
 * Re-encrypts every value of `columns` that is not under the keyring's primary key.
 *
 * Safe to stop (AbortSignal, crash, SIGKILL) and run again at any point: which rows remain is read
 * from the data itself (a value's key id is in its header), each row is rewritten by one statement
 * `UPDATE … WHERE id = $id AND col = $old`, so a row is either fully old or fully new, a value is never
 * encrypted twice (it is decrypted first), and a row the application rewrote meanwhile is left alone.
 */
export async function reencryptTable(options: ReencryptTableOptions): Promise<ReencryptResult> {
  const job = resolve(options);
  const prefix = envelopePrefix(job.keyring.primary);
  const stale = job.columnSql.map((c) => stalePredicate(c, "$1")).join(" OR ");
  const select = `SELECT ${job.idSql} AS id, ${job.columnSql.map((c, i) => `${c} AS c${i}`).join(", ")} FROM ${job.tableSql}`;
  const firstBatch = `${select} WHERE (${stale}) ORDER BY ${job.idSql} LIMIT $2`;
  const nextBatch = `${select} WHERE ${job.idSql} > $3 AND (${stale}) ORDER BY ${job.idSql} LIMIT $2`;
  const progress: ReencryptProgress = { scanned: 0, updated: 0, conflicts: 0 };
  let lastId: unknown;
  let first = true;

  while (true) {
    if (job.signal?.aborted) return { status: "aborted", ...progress };
    const params = first ? [prefix, job.batchSize] : [prefix, job.batchSize, lastId];
    const { rows } = await job.db.query(first ? firstBatch : nextBatch, params);
    first = false;
    for (const row of rows) {
      if (job.signal?.aborted) return { status: "aborted", ...progress };
      progress.scanned++;
      lastId = row.id;
      if (await rewriteRow(job, row)) progress.updated++;
      else progress.conflicts++;
    }
    job.onProgress?.({ ...progress });
    if (rows.length < job.batchSize) return { status: "done", ...progress };
  }
}

/** Rewrites one row's stale values in one guarded statement; false when the row changed meanwhile. */
async function rewriteRow(job: ResolvedJob, row: Record<string, unknown>): Promise<boolean> {
  const sets: string[] = [];
  const guards: string[] = [];
  const params: unknown[] = [row.id];
  job.columns.forEach((column, i) => {
    const old = row[`c${i}`];
    if (old === null || old === undefined) return;
    if (typeof old !== "string") throw failed(job, column, row.id);
    let next: string;
    try {
      if (!job.keyring.needsReencrypt(old)) return;
      next = job.keyring.reencrypt(old, { aad: job.aad({ table: job.table, column, id: row.id }) });
    } catch (error) {
      throw failed(job, column, row.id, error);
    }
    params.push(next, old);
    sets.push(`${job.columnSql[i]} = $${params.length - 1}`);
    guards.push(`${job.columnSql[i]} = $${params.length}`);
  });
  if (sets.length === 0) return false;
  const sql = `UPDATE ${job.tableSql} SET ${sets.join(", ")} WHERE ${job.idSql} = $1 AND ${guards.join(" AND ")} RETURNING ${job.idSql}`;
  const { rows } = await job.db.query(sql, params);
  return rows.length === 1;
}

function failed(job: ResolvedJob, column: string, id: unknown, cause?: unknown): BulwarkError {
  return new BulwarkError("ERR_CRYPTO_DECRYPT_FAILED", "decryption failed", {
    status: 500,
    details: { table: job.table, column, id: typeof id === "bigint" ? id.toString() : id },
    cause,
  });
}

/** How far a rotation has got, read from the data: rows in total and rows still holding an old key. */
export async function reencryptProgress(
  options: Pick<ReencryptTableOptions, "db" | "keyring" | "table" | "columns" | "idColumn">,
): Promise<{ total: number; pending: number }> {
  const job = resolve({ ...options, aad: () => "" });
  const stale = job.columnSql.map((c) => stalePredicate(c, "$1")).join(" OR ");
  const { rows } = await job.db.query(
    `SELECT count(*) AS total, count(*) FILTER (WHERE ${stale}) AS pending FROM ${job.tableSql}`,
    [envelopePrefix(job.keyring.primary)],
  );
  return { total: Number(rows[0]?.total ?? 0), pending: Number(rows[0]?.pending ?? 0) };
}
