import type { PGlite, Transaction } from "@electric-sql/pglite";
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from "kysely";

/**
 * A Kysely dialect for PGlite (PostgreSQL compiled to WebAssembly, in process).
 *
 * PGlite is one connection. Plain queries go through `pglite.query`, which PGlite serialises; a
 * Kysely transaction runs inside `pglite.transaction`, which holds PGlite's transaction lock for its
 * whole duration, so nothing else — another Kysely connection or a bulwark store sharing the same
 * PGlite — can interleave statements with it. Consequence: inside a transaction, use the
 * transaction object only; a query on the root `Kysely` instance would wait for the transaction
 * to end (a deadlock with a real pool would just be another connection).
 */
export class PGliteDialect implements Dialect {
  readonly #pglite: PGlite;

  constructor(options: { pglite: PGlite }) {
    this.#pglite = options.pglite;
  }

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }

  createDriver(): Driver {
    return new PGliteDriver(this.#pglite);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own dialects take Kysely<any> here.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}

/** Thrown into PGlite's transaction callback to make it roll back; never escapes the driver. */
const ROLLBACK = Symbol("rollback");

class PGliteConnection implements DatabaseConnection {
  readonly #pglite: PGlite;
  #tx: Transaction | undefined;
  #finish: ((commit: boolean) => void) | undefined;
  #done: Promise<void> | undefined;

  constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const target = this.#tx ?? this.#pglite;
    const result = await target.query<R>(compiled.sql, compiled.parameters as unknown[]);
    return result.affectedRows === undefined
      ? { rows: result.rows }
      : { rows: result.rows, numAffectedRows: BigInt(result.affectedRows) };
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    yield await this.executeQuery<R>(compiled);
  }

  async begin(settings: TransactionSettings): Promise<void> {
    if (this.#tx) throw new Error("PGliteDialect: transaction already open on this connection");
    const started = deferred<Transaction>();
    const finished = deferred<boolean>();
    this.#finish = finished.resolve;
    this.#done = this.#pglite
      .transaction(async (tx) => {
        started.resolve(tx);
        if (!(await finished.promise)) throw ROLLBACK;
      })
      .catch((error: unknown) => {
        if (error !== ROLLBACK) throw error;
      });
    // A failure to open the transaction (BEGIN failed) rejects `done` before `started` resolves.
    const tx = await Promise.race([started.promise, this.#done.then(() => undefined)]);
    if (!tx) throw new Error("PGliteDialect: the transaction could not be opened");
    this.#tx = tx;
    const modes: string[] = [];
    if (settings.isolationLevel) modes.push(`isolation level ${settings.isolationLevel}`);
    if (settings.accessMode) modes.push(settings.accessMode);
    if (modes.length > 0) await tx.query(`set transaction ${modes.join(", ")}`);
  }

  async end(commit: boolean): Promise<void> {
    const finish = this.#finish;
    const done = this.#done;
    this.#tx = undefined;
    this.#finish = undefined;
    this.#done = undefined;
    if (!finish || !done) {
      // Kysely rolls back after a failed commit; the transaction is already over by then.
      if (!commit) return;
      throw new Error("PGliteDialect: no open transaction");
    }
    finish(commit);
    await done;
  }
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function savepointQuery(command: string, name: string): CompiledQuery {
  return CompiledQuery.raw(`${command} "${name.replaceAll('"', '""')}"`);
}

class PGliteDriver implements Driver {
  readonly #pglite: PGlite;

  constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }

  async init(): Promise<void> {
    await this.#pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new PGliteConnection(this.#pglite);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await (connection as PGliteConnection).begin(settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).end(true);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).end(false);
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(savepointQuery("savepoint", name));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(savepointQuery("rollback to savepoint", name));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(savepointQuery("release savepoint", name));
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {}
}
