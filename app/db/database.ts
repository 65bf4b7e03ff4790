import { PGlite } from "@electric-sql/pglite";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { type Logger, silentLogger } from "../../src/core/logger.js";
import { assertTenantIsolation, enableTenantRls } from "../../src/tenancy/index.js";
import { APP_ROLE, migrateToLatest, TENANT_TABLES } from "./migrations.js";
import { PGliteDialect } from "./pglite-dialect.js";
import type { Database } from "./schema.js";

/** The app's database: Kysely over PGlite (embedded default) or over a `pg` pool (`DATABASE_URL`). */
export interface AppDatabase {
  readonly db: Kysely<Database>;
  readonly kind: "pglite" | "postgres";
  /** The driver object, for bulwark stores that take a `pg` Pool or a PGlite instance. */
  readonly client: PGlite | pg.Pool;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A PostgreSQL connection string; absent → PGlite. */
  databaseUrl?: string | undefined;
  /** PGlite data directory; absent → in memory (a fresh database per start). */
  pgliteDataDir?: string | undefined;
  /** Pool size for PostgreSQL (default 10). */
  maxConnections?: number;
  /**
   * Accept a PostgreSQL login role that is a superuser (it switches to the app role per transaction
   * but could switch back). Development and tests only; production connects as a non-superuser.
   */
  dangerouslyAllowSuperuserSession?: boolean;
  /** Where the tenancy guard's warnings go. */
  logger?: Logger;
}

/**
 * Opens the database, applies pending migrations and tenant isolation, then runs bulwark's start
 * guard as the app role: it throws if that role could bypass row-level security or a tenant table
 * is not isolated.
 */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<AppDatabase> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.maxConnections ?? 10 });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await migrateToLatest(db);
    await isolateTenants(pool);
    // The login role runs migrations and switches to the app role per transaction. A superuser login
    // could switch back: accepted only when the caller says so (development and tests).
    await assertTenantIsolation(pool, {
      tables: [...TENANT_TABLES],
      role: APP_ROLE,
      dangerouslyAllowSuperuserSession: options.dangerouslyAllowSuperuserSession ?? false,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    return {
      db,
      kind: "postgres",
      client: pool,
      close: () => db.destroy(), // ends the pool
    };
  }
  const pglite = options.pgliteDataDir ? new PGlite(options.pgliteDataDir) : new PGlite();
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  await migrateToLatest(db);
  await isolateTenants(pglite);
  // PGlite is single-user (superuser): isolation holds against a forgotten filter, not injected SQL.
  await assertTenantIsolation(pglite, {
    tables: [...TENANT_TABLES],
    role: APP_ROLE,
    dangerouslyAllowSuperuserSession: true,
    logger: options.logger ?? silentLogger,
  });
  return {
    db,
    kind: "pglite",
    client: pglite,
    async close() {
      await db.destroy();
      await pglite.close();
    },
  };
}

/**
 * bulwark/tenancy's policy on every tenant table (ENABLE + FORCE row-level security keyed on
 * `school_id`). Idempotent; runs at every start, after the migrations, as the table owner.
 */
async function isolateTenants(client: PGlite | pg.Pool): Promise<void> {
  for (const table of TENANT_TABLES) await enableTenantRls(client, table, { column: "school_id" });
}
