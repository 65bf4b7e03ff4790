import { type Kysely, sql, type Transaction } from "kysely";
import { APP_ROLE } from "./migrations.js";
import type { Database } from "./schema.js";

export type Tx = Transaction<Database>;

/** The setting bulwark/tenancy's policy reads (`enableTenantRls`, `withTenant`). */
const TENANT_SETTING = "app.tenant_id";

/**
 * Runs `fn` in one Kysely transaction as the row-level-security-bound app role, scoped to
 * `schoolId`: every tenant table shows and accepts that school's rows only. This is bulwark's
 * `withTenant` for a query builder (`withTenant` takes raw pg/PGlite clients): the same
 * transaction-local setting, plus the switch to the app role. Use the given transaction for every
 * query inside.
 */
export function withSchool<T>(
  db: Kysely<Database>,
  schoolId: string,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await sql`select set_config(${TENANT_SETTING}, ${schoolId}, true), set_config('role', ${APP_ROLE}, true)`.execute(
      tx,
    );
    return fn(tx);
  });
}

/** Runs `fn` as the app role with no school: tenant tables are empty, only public data is visible. */
export function withoutSchool<T>(db: Kysely<Database>, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await sql`select set_config('role', ${APP_ROLE}, true)`.execute(tx);
    return fn(tx);
  });
}
