import { BulwarkError } from "../core/errors.js";
import { checkKeys, configError } from "../core/options.js";
import { inTransaction, quoteName, type SqlQueryable, sqlDatabase } from "./db.js";
import { TENANT_SETTING } from "./tenant.js";

/**
 * The migration helper: ENABLE and FORCE row-level security on a tenant table and install one
 * policy for every command, `USING` and `WITH CHECK` the same predicate:
 *
 *   tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
 *
 * With no tenant set, `current_setting(…, true)` is NULL (or '' after an earlier transaction set it
 * locally), NULLIF makes it NULL, and `tenant_id = NULL` is never true: no row is visible and no
 * row can be written. FORCE makes the table's owner obey the policy too (owners bypass RLS
 * otherwise — the usual way an app that owns its tables silently loses isolation).
 */

export interface TenantRlsOptions {
  /** The uuid column holding the tenant (default "tenant_id"). */
  column?: string;
  /** Policy name (default "bulwark_tenant_isolation"); re-running replaces it. */
  policy?: string;
}

function resolve(where: string, table: unknown, options: TenantRlsOptions) {
  const o = checkKeys(where, options, ["column", "policy"]);
  return {
    table: quoteName(where, table, "table"),
    column: quoteName(where, o.column ?? "tenant_id", "column"),
    columnName: (o.column as string | undefined) ?? "tenant_id",
    policy: quoteName(where, o.policy ?? "bulwark_tenant_isolation", "policy"),
  };
}

/** The statements `enableTenantRls` runs, for migration tools that want SQL files. */
export function tenantRlsSql(table: string, options: TenantRlsOptions = {}): string[] {
  const r = resolve("tenantRlsSql", table, options);
  const predicate = `${r.column} = NULLIF(current_setting('${TENANT_SETTING}', true), '')::uuid`;
  return [
    `ALTER TABLE ${r.table} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${r.table} FORCE ROW LEVEL SECURITY`,
    `DROP POLICY IF EXISTS ${r.policy} ON ${r.table}`,
    `CREATE POLICY ${r.policy} ON ${r.table} AS PERMISSIVE FOR ALL TO PUBLIC USING (${predicate}) WITH CHECK (${predicate})`,
  ];
}

/**
 * Enables and forces RLS with the tenant policy on `table`, in one transaction; idempotent. Fails
 * with ERR_TENANCY_TABLE_MISSING when the table does not exist and ERR_CONFIG_INVALID when the
 * column is missing or not of type uuid. Run it as the table owner (a migration role).
 */
export async function enableTenantRls(
  db: SqlQueryable,
  table: string,
  options: TenantRlsOptions = {},
): Promise<void> {
  const where = "enableTenantRls";
  sqlDatabase(where, db);
  const r = resolve(where, table, options);
  const statements = tenantRlsSql(table, options);
  await inTransaction(db, async (tx) => {
    const { rows } = await tx.query(
      `SELECT c.oid IS NOT NULL AS found, a.attname IS NOT NULL AS has_column, a.atttypid = 'uuid'::regtype AS is_uuid
FROM (SELECT to_regclass($1) AS oid) AS c
LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
      [r.table, r.columnName],
    );
    const row = rows[0] as { found: boolean; has_column: boolean; is_uuid: boolean | null } | undefined;
    if (row === undefined || !row.found) {
      throw new BulwarkError("ERR_TENANCY_TABLE_MISSING", `${where}: table ${r.table} does not exist`, {
        details: { table: r.table },
      });
    }
    if (!row.has_column || row.is_uuid !== true) {
      throw configError(
        where,
        `table ${r.table} needs a column ${r.column} of type uuid${row.has_column ? " (it has another type)" : ""}`,
      );
    }
    for (const statement of statements) await tx.query(statement);
  });
}
