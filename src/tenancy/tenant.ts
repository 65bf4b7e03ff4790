import { BulwarkError } from "../core/errors.js";
import { checkKeys } from "../core/options.js";
import { inTransaction, quoteName, type SqlQueryable, sqlDatabase } from "./db.js";

/**
 * Tenant scoping through PostgreSQL row-level security: every query of a request runs inside
 * `withTenant`, which opens a transaction and sets `app.tenant_id` for that transaction only
 * (`set_config(…, true)`, reset at COMMIT/ROLLBACK, so a pooled connection never carries a tenant
 * over). The policies installed by `enableTenantRls` compare each row's tenant column with it, so a
 * query that forgets its `WHERE tenant_id = …` still sees only the current tenant's rows, and a
 * query run outside `withTenant` sees none.
 */

/** The setting the policies read. */
export const TENANT_SETTING = "app.tenant_id";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` is a UUID in canonical 8-4-4-4-12 hex form. */
export function isTenantId(value: unknown): value is string {
  return typeof value === "string" && UUID_RE.test(value);
}

/**
 * The transaction client `fn` receives: PGlite's `Transaction` for a PGlite instance, a
 * `PoolClient` for a pg `Pool`, the client itself for a pg `Client`/`PoolClient`.
 */
export type TenantTransaction<D> = D extends {
  transaction<T>(fn: (tx: infer X) => Promise<T>): Promise<T>;
}
  ? X
  : D extends { totalCount: number; connect(): Promise<infer C>; connect(callback: never): void }
    ? C
    : D;

export interface WithTenantOptions {
  /**
   * A role to `SET LOCAL ROLE` to for the transaction (default none). Needed where the connection's
   * own role bypasses RLS — PGlite always runs as a superuser — and useful to drop privileges.
   */
  role?: string;
}

/**
 * Runs `fn` in a transaction scoped to `tenantId` (a UUID; anything else throws
 * ERR_TENANT_ID_INVALID before touching the database). Commits when `fn` resolves, rolls back when
 * it throws. Do not nest: `fn` must not start another transaction on the client it receives.
 */
export async function withTenant<D extends SqlQueryable, T>(
  db: D,
  tenantId: string,
  fn: (tx: TenantTransaction<D>) => Promise<T>,
  options: WithTenantOptions = {},
): Promise<T> {
  const where = "withTenant";
  sqlDatabase(where, db);
  if (!isTenantId(tenantId)) {
    throw new BulwarkError("ERR_TENANT_ID_INVALID", "tenant id must be a UUID", { status: 400 });
  }
  const o = checkKeys(where, options, ["role"]);
  const setRole = o.role === undefined ? undefined : `SET LOCAL ROLE ${quoteName(where, o.role, "role")}`;
  return inTransaction(db, async (tx) => {
    if (setRole !== undefined) await tx.query(setRole);
    await tx.query("SELECT set_config($1, $2, true)", [TENANT_SETTING, tenantId.toLowerCase()]);
    return fn(tx as TenantTransaction<D>);
  });
}
