import { BulwarkError, type ErrorCode } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { boolean, checkKeys, configError } from "../core/options.js";
import { inTransaction, quoteName, type SqlQueryable, sqlDatabase } from "./db.js";
import { TENANT_SETTING } from "./tenant.js";

/**
 * The start guard: call it once at boot with the application's own connection and refuse to serve
 * if tenant isolation cannot hold. Row-level security is silently skipped for superusers and roles
 * with BYPASSRLS (and for table owners unless FORCE is set), so an app that connects with the wrong
 * role passes every functional test and isolates nothing. This turns that into a start failure.
 */

export interface TenantIsolationOptions {
  /** Tenant tables to check (optionally schema-qualified). */
  tables: readonly string[];
  /**
   * The role the app's queries run as when it is not the connection's login role: the role given
   * to `withTenant(…, { role })`. The checks then run under `SET LOCAL ROLE`.
   */
  role?: string;
  /**
   * Accept a superuser login role that switches to `role` (PGlite has no other way). Any statement
   * can `RESET ROLE` back to superuser, so isolation holds only while no attacker-controlled SQL
   * runs: never use it with a networked PostgreSQL. Logs a warning.
   */
  dangerouslyAllowSuperuserSession?: boolean;
  logger?: Logger;
}

export interface TenantIsolationReport {
  /** The role the checks ran as. */
  readonly role: string;
  /** The login (session) role. */
  readonly sessionRole: string;
  readonly tables: readonly string[];
}

interface RoleRow {
  current_role: string;
  session_role: string;
  superuser: boolean;
  bypassrls: boolean;
  escalates_superuser: string | null;
  escalates_bypassrls: string | null;
  session_superuser: boolean;
}

interface TableRow {
  found: boolean;
  rls: boolean | null;
  forced: boolean | null;
  tenant_policies: number | null;
  widening: string | null;
}

const ROLE_SQL = `SELECT current_user AS current_role, session_user AS session_role,
  r.rolsuper AS superuser, r.rolbypassrls AS bypassrls,
  (SELECT o.rolname FROM pg_roles o WHERE o.rolsuper AND o.oid <> r.oid AND pg_has_role(r.oid, o.oid, 'MEMBER') LIMIT 1) AS escalates_superuser,
  (SELECT o.rolname FROM pg_roles o WHERE o.rolbypassrls AND o.oid <> r.oid AND pg_has_role(r.oid, o.oid, 'MEMBER') LIMIT 1) AS escalates_bypassrls,
  coalesce((SELECT s.rolsuper FROM pg_roles s WHERE s.rolname = session_user), false) AS session_superuser
FROM pg_roles r WHERE r.rolname = current_user`;

// A policy counts as a tenant filter when its expressions read the tenant setting. A permissive
// policy that applies to this role and does not read it widens access (permissive policies are
// OR-ed), so it is reported. This is a check of intent, not a proof of the predicate.
const TABLE_SQL = `SELECT c.oid IS NOT NULL AS found, k.relrowsecurity AS rls, k.relforcerowsecurity AS forced,
  (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid
     AND coalesce(pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), '') LIKE $2) AS tenant_policies,
  (SELECT p.polname FROM pg_policy p WHERE p.polrelid = c.oid AND p.polpermissive
     AND (0 = ANY (p.polroles) OR EXISTS (SELECT 1 FROM unnest(p.polroles) AS pr(oid) WHERE pg_has_role(current_user, pr.oid, 'MEMBER')))
     AND ((p.polqual IS NOT NULL AND pg_get_expr(p.polqual, p.polrelid) NOT LIKE $2)
       OR (p.polwithcheck IS NOT NULL AND pg_get_expr(p.polwithcheck, p.polrelid) NOT LIKE $2))
     LIMIT 1) AS widening
FROM (SELECT to_regclass($1) AS oid) AS c LEFT JOIN pg_class AS k ON k.oid = c.oid`;

interface Problem {
  code: ErrorCode;
  message: string;
  table?: string;
}

/**
 * Throws a BulwarkError when tenant isolation cannot hold: ERR_TENANCY_ROLE_SUPERUSER,
 * ERR_TENANCY_ROLE_BYPASSRLS (also when the role can SET ROLE to such a role),
 * ERR_TENANCY_TABLE_MISSING, ERR_TENANCY_RLS_DISABLED, ERR_TENANCY_RLS_NOT_FORCED or
 * ERR_TENANCY_POLICY_MISSING — the message names every offending table; `details.problems` lists
 * them all. Resolves to a report when everything holds.
 */
export async function assertTenantIsolation(
  db: SqlQueryable,
  options: TenantIsolationOptions,
): Promise<TenantIsolationReport> {
  const where = "assertTenantIsolation";
  sqlDatabase(where, db);
  const o = checkKeys(where, options, ["tables", "role", "dangerouslyAllowSuperuserSession", "logger"]);
  if (!Array.isArray(o.tables) || o.tables.length === 0) {
    throw configError(where, `"tables" must list at least one tenant table`);
  }
  const tables = (o.tables as unknown[]).map((t) => quoteName(where, t, "table"));
  const setRole = o.role === undefined ? undefined : `SET LOCAL ROLE ${quoteName(where, o.role, "role")}`;
  const allowSuperSession = boolean(
    where,
    "dangerouslyAllowSuperuserSession",
    o.dangerouslyAllowSuperuserSession,
    false,
  );
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;

  const { role, tableRows } = await inTransaction(db, async (tx) => {
    if (setRole !== undefined) await tx.query(setRole);
    const role = (await tx.query(ROLE_SQL)).rows[0] as RoleRow;
    const tableRows: TableRow[] = [];
    for (const table of tables) {
      tableRows.push((await tx.query(TABLE_SQL, [table, `%${TENANT_SETTING}%`])).rows[0] as TableRow);
    }
    return { role, tableRows };
  });

  const problems: Problem[] = [];
  if (role.superuser) {
    problems.push({
      code: "ERR_TENANCY_ROLE_SUPERUSER",
      message: `role "${role.current_role}" is a superuser, which bypasses row-level security`,
    });
  } else if (role.escalates_superuser !== null) {
    problems.push({
      code: "ERR_TENANCY_ROLE_SUPERUSER",
      message: `role "${role.current_role}" is a member of superuser role "${role.escalates_superuser}" and can SET ROLE to it`,
    });
  }
  if (role.bypassrls) {
    problems.push({
      code: "ERR_TENANCY_ROLE_BYPASSRLS",
      message: `role "${role.current_role}" has BYPASSRLS`,
    });
  } else if (role.escalates_bypassrls !== null) {
    problems.push({
      code: "ERR_TENANCY_ROLE_BYPASSRLS",
      message: `role "${role.current_role}" is a member of BYPASSRLS role "${role.escalates_bypassrls}" and can SET ROLE to it`,
    });
  }
  if (role.session_superuser && role.session_role !== role.current_role) {
    if (allowSuperSession) {
      logger.warn(
        { code: "ERR_TENANCY_ROLE_SUPERUSER", sessionRole: role.session_role, role: role.current_role },
        "assertTenantIsolation: dangerouslyAllowSuperuserSession is set; RLS holds only while no statement resets the role",
      );
    } else {
      problems.push({
        code: "ERR_TENANCY_ROLE_SUPERUSER",
        message: `login role "${role.session_role}" is a superuser; any statement can RESET ROLE out of "${role.current_role}"`,
      });
    }
  }
  tables.forEach((table, i) => {
    const t = tableRows[i] as TableRow;
    if (!t.found) {
      problems.push({ code: "ERR_TENANCY_TABLE_MISSING", table, message: `table ${table} does not exist` });
    } else if (t.rls !== true) {
      problems.push({
        code: "ERR_TENANCY_RLS_DISABLED",
        table,
        message: `table ${table} does not have ROW LEVEL SECURITY enabled; run enableTenantRls`,
      });
    } else if (t.forced !== true) {
      problems.push({
        code: "ERR_TENANCY_RLS_NOT_FORCED",
        table,
        message: `table ${table} lacks FORCE ROW LEVEL SECURITY (its owner bypasses the policies); run enableTenantRls`,
      });
    } else if ((t.tenant_policies ?? 0) === 0) {
      problems.push({
        code: "ERR_TENANCY_POLICY_MISSING",
        table,
        message: `table ${table} has no policy filtering on ${TENANT_SETTING}; run enableTenantRls`,
      });
    } else if (t.widening !== null) {
      problems.push({
        code: "ERR_TENANCY_POLICY_MISSING",
        table,
        message: `table ${table} has permissive policy "${t.widening}" that does not filter on ${TENANT_SETTING} and widens access`,
      });
    }
  });

  const first = problems[0];
  if (first !== undefined) {
    throw new BulwarkError(first.code, `${where}: ${problems.map((p) => p.message).join("; ")}`, {
      status: 500,
      details: { problems: problems.map(({ code, table }) => ({ code, ...(table ? { table } : {}) })) },
    });
  }
  return { role: role.current_role, sessionRole: role.session_role, tables };
}
