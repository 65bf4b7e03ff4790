import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, postgresAvailability } from "../../test/servers.js";
import { isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import { assertTenantIsolation } from "./guard.js";
import { enableTenantRls } from "./rls.js";
import { withTenant } from "./tenant.js";

const postgres = await postgresAvailability();
const suffix = Math.random().toString(36).slice(2, 10);
const schema = `t_tenancy_${suffix}`;
const appRole = `t_tenancy_app_${suffix}`;
const bypassRole = `t_tenancy_bypass_${suffix}`;
const superRole = `t_tenancy_super_${suffix}`;
const escalatingRole = `t_tenancy_esc_${suffix}`;

const A = "11111111-1111-4111-8111-111111111111";
const B = "22222222-2222-4222-8222-222222222222";
const lessons = `${schema}.lessons`;

function urlAs(user: string): string {
  const url = new URL(DATABASE_URL);
  url.username = user;
  url.password = "";
  return url.toString();
}

async function failure(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error("expected a failure");
}

describe.runIf(postgres.available)("tenancy on PostgreSQL (dedicated non-superuser role)", () => {
  let admin: pg.Pool;
  let app: pg.Pool;
  const extraPools: pg.Pool[] = [];

  beforeAll(async () => {
    postgres.assertUnderCi();
    admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
    await admin.query(`CREATE ROLE ${appRole} LOGIN NOSUPERUSER NOBYPASSRLS`);
    await admin.query(`CREATE ROLE ${bypassRole} LOGIN NOSUPERUSER BYPASSRLS`);
    await admin.query(`CREATE ROLE ${superRole} NOLOGIN SUPERUSER`);
    await admin.query(`CREATE ROLE ${escalatingRole} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE ${superRole}`);
    await admin.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${appRole}`);
    for (const role of [bypassRole, escalatingRole])
      await admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    // The application role owns its tables, as most apps do: FORCE is what makes the policy bind it.
    await admin.query(`SET ROLE ${appRole}`);
    await admin.query(
      `CREATE TABLE ${lessons} (id serial PRIMARY KEY, tenant_id uuid NOT NULL, title text NOT NULL)`,
    );
    await admin.query(`CREATE TABLE ${schema}.unforced (id serial PRIMARY KEY, tenant_id uuid NOT NULL)`);
    await admin.query(`CREATE TABLE ${schema}.no_rls (id serial PRIMARY KEY, tenant_id uuid NOT NULL)`);
    await admin.query(`CREATE TABLE ${schema}.no_policy (id serial PRIMARY KEY, tenant_id uuid NOT NULL)`);
    await admin.query(`CREATE TABLE ${schema}.widened (id serial PRIMARY KEY, tenant_id uuid NOT NULL)`);
    await admin.query(`CREATE TABLE ${schema}.textual (id serial PRIMARY KEY, tenant_id text NOT NULL)`);
    await admin.query(`RESET ROLE`);
    await admin.query(
      `INSERT INTO ${lessons} (tenant_id, title) VALUES ($1, 'a-piano'), ($1, 'a-violin'), ($2, 'b-drums')`,
      [A, B],
    );
    await enableTenantRls(admin, lessons);
    // unforced: RLS and the policy, but not FORCE.
    await enableTenantRls(admin, `${schema}.unforced`);
    await admin.query(`ALTER TABLE ${schema}.unforced NO FORCE ROW LEVEL SECURITY`);
    await admin.query(`INSERT INTO ${schema}.unforced (tenant_id) VALUES ($1), ($2)`, [A, B]);
    await admin.query(`ALTER TABLE ${schema}.no_policy ENABLE ROW LEVEL SECURITY`);
    await admin.query(`ALTER TABLE ${schema}.no_policy FORCE ROW LEVEL SECURITY`);
    await enableTenantRls(admin, `${schema}.widened`);
    await admin.query(`CREATE POLICY everything ON ${schema}.widened USING (true)`);
    app = new pg.Pool({ connectionString: urlAs(appRole), max: 1 });
  });

  afterAll(async () => {
    await app?.end();
    await Promise.all(extraPools.map((p) => p.end()));
    if (admin !== undefined) {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      for (const role of [escalatingRole, superRole, bypassRole, appRole]) {
        await admin.query(`DROP ROLE IF EXISTS ${role}`);
      }
      await admin.end();
    }
  });

  function poolAs(role: string): pg.Pool {
    const pool = new pg.Pool({ connectionString: urlAs(role), max: 1 });
    extraPools.push(pool);
    return pool;
  }

  it("connects as a role that is neither superuser nor BYPASSRLS", async () => {
    const { rows } = await app.query(
      "SELECT current_user AS me, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
    );
    expect(rows).toEqual([{ me: appRole, rolsuper: false, rolbypassrls: false }]);
  });

  it("returns zero rows for a query with no tenant set, even one without a WHERE", async () => {
    expect((await app.query(`SELECT * FROM ${lessons}`)).rows).toEqual([]);
    // Also on the same pooled connection right after a tenant-scoped transaction (set_config is local).
    await withTenant(app, A, async (tx) => tx.query(`SELECT 1 FROM ${lessons}`));
    expect((await app.query(`SELECT count(*)::int AS n FROM ${lessons}`)).rows).toEqual([{ n: 0 }]);
    expect((await app.query("SELECT current_setting('app.tenant_id', true) AS t")).rows).toEqual([{ t: "" }]);
  });

  it("shows a tenant only its own rows, without any tenant filter in the query", async () => {
    const titles = await withTenant(app, A, async (tx) => {
      const { rows } = await tx.query(`SELECT title FROM ${lessons} ORDER BY title`);
      return rows.map((r) => r.title);
    });
    expect(titles).toEqual(["a-piano", "a-violin"]);
    const other = await withTenant(
      app,
      B,
      async (tx) => (await tx.query(`SELECT title FROM ${lessons}`)).rows,
    );
    expect(other).toEqual([{ title: "b-drums" }]);
  });

  it("refuses a write into another tenant (insert, move by update) with an RLS violation", async () => {
    const insert = await failure(
      withTenant(app, A, (tx) =>
        tx.query(`INSERT INTO ${lessons} (tenant_id, title) VALUES ($1, 'planted')`, [B]),
      ),
    );
    expect(insert.code).toBe("42501");
    expect(insert.message).toMatch(/row-level security/);
    const move = await failure(
      withTenant(app, A, (tx) =>
        tx.query(`UPDATE ${lessons} SET tenant_id = $1 WHERE title = 'a-piano'`, [B]),
      ),
    );
    expect(move.code).toBe("42501");
    // Another tenant's rows are invisible to UPDATE and DELETE: nothing changes.
    const counts = await withTenant(app, A, async (tx) => [
      (await tx.query(`UPDATE ${lessons} SET title = 'hijacked' WHERE title = 'b-drums' RETURNING 1`)).rows
        .length,
      (await tx.query(`DELETE FROM ${lessons} WHERE title = 'b-drums' RETURNING 1`)).rows.length,
    ]);
    expect(counts).toEqual([0, 0]);
    // And without a tenant, no write at all.
    expect(
      (await failure(app.query(`INSERT INTO ${lessons} (tenant_id, title) VALUES ($1, 'x')`, [A]))).code,
    ).toBe("42501");
    const all = await admin.query(`SELECT title FROM ${lessons} ORDER BY title`);
    expect(all.rows.map((r) => r.title)).toEqual(["a-piano", "a-violin", "b-drums"]);
  });

  it("commits when fn resolves and rolls back when it throws", async () => {
    await withTenant(app, A, (tx) =>
      tx.query(`INSERT INTO ${lessons} (tenant_id, title) VALUES ($1, 'a-cello')`, [A]),
    );
    const boom = new Error("boom");
    await expect(
      withTenant(app, A, async (tx) => {
        await tx.query(`INSERT INTO ${lessons} (tenant_id, title) VALUES ($1, 'a-rolled-back')`, [A]);
        throw boom;
      }),
    ).rejects.toBe(boom);
    const titles = await withTenant(app, A, async (tx) =>
      (await tx.query(`SELECT title FROM ${lessons} ORDER BY title`)).rows.map((r) => r.title),
    );
    expect(titles).toEqual(["a-cello", "a-piano", "a-violin"]);
    await admin.query(`DELETE FROM ${lessons} WHERE title = 'a-cello'`);
  });

  it("works on a single pg Client too", async () => {
    const client = new pg.Client({ connectionString: urlAs(appRole) });
    await client.connect();
    try {
      const n = await withTenant(
        client,
        B,
        async (tx) => (await tx.query(`SELECT count(*)::int AS n FROM ${lessons}`)).rows,
      );
      expect(n).toEqual([{ n: 1 }]);
      expect((await client.query(`SELECT count(*)::int AS n FROM ${lessons}`)).rows).toEqual([{ n: 0 }]);
    } finally {
      await client.end();
    }
  });

  it("refuses a tenant id that is not a UUID before touching the database", async () => {
    let queries = 0;
    const spy = {
      query: async () => {
        queries++;
        return { rows: [] };
      },
    };
    for (const bad of ["", "1", "' OR 1=1 --", `${A} `, "11111111111141118111111111111111"]) {
      const error = await failure(withTenant(spy, bad, async () => 1));
      expect(isBulwarkError(error, "ERR_TENANT_ID_INVALID"), bad).toBe(true);
    }
    expect(queries).toBe(0);
  });

  describe("start guard", () => {
    const tables = [lessons];

    it("passes for the application role on tables with RLS forced and the tenant policy", async () => {
      expect(await assertTenantIsolation(app, { tables })).toEqual({
        role: appRole,
        sessionRole: appRole,
        tables: [`"${schema}"."lessons"`],
      });
    });

    it("trips for a superuser role", async () => {
      const error = await failure(assertTenantIsolation(admin, { tables }));
      expect(isBulwarkError(error, "ERR_TENANCY_ROLE_SUPERUSER")).toBe(true);
      expect(error.message).toMatch(/is a superuser/);
    });

    it("trips for a BYPASSRLS role", async () => {
      const error = await failure(assertTenantIsolation(poolAs(bypassRole), { tables }));
      expect(isBulwarkError(error, "ERR_TENANCY_ROLE_BYPASSRLS")).toBe(true);
    });

    it("trips for a role that can SET ROLE to a superuser", async () => {
      const error = await failure(assertTenantIsolation(poolAs(escalatingRole), { tables }));
      expect(isBulwarkError(error, "ERR_TENANCY_ROLE_SUPERUSER")).toBe(true);
      expect(error.message).toContain(superRole);
    });

    it("trips for a table without FORCE ROW LEVEL SECURITY, naming it — and that table does leak to its owner", async () => {
      const unforced = `${schema}.unforced`;
      const error = await failure(assertTenantIsolation(app, { tables: [lessons, unforced] }));
      expect(isBulwarkError(error, "ERR_TENANCY_RLS_NOT_FORCED")).toBe(true);
      expect(error.message).toContain(`"${schema}"."unforced"`);
      expect(error.message).not.toContain(`"${schema}"."lessons"`);
      expect((error as unknown as { details: unknown }).details).toEqual({
        problems: [{ code: "ERR_TENANCY_RLS_NOT_FORCED", table: `"${schema}"."unforced"` }],
      });
      // Why it matters: the owning role sees every tenant's rows with no tenant set.
      expect((await app.query(`SELECT count(*)::int AS n FROM ${unforced}`)).rows).toEqual([{ n: 2 }]);
    });

    it("trips for a table without RLS, without the tenant policy, with a widening policy, or missing", async () => {
      const cases: Array<[string, string]> = [
        [`${schema}.no_rls`, "ERR_TENANCY_RLS_DISABLED"],
        [`${schema}.no_policy`, "ERR_TENANCY_POLICY_MISSING"],
        [`${schema}.widened`, "ERR_TENANCY_POLICY_MISSING"],
        [`${schema}.nope`, "ERR_TENANCY_TABLE_MISSING"],
      ];
      for (const [table, code] of cases) {
        const error = await failure(assertTenantIsolation(app, { tables: [table] }));
        expect(isBulwarkError(error, code), table).toBe(true);
        expect(error.message).toContain(`"${table.split(".")[1]}"`);
      }
    });

    it("lists every problem at once, the role first", async () => {
      const error = await failure(
        assertTenantIsolation(poolAs(bypassRole), { tables: [`${schema}.no_rls`, `${schema}.unforced`] }),
      );
      expect((error as unknown as { details: unknown }).details).toEqual({
        problems: [
          { code: "ERR_TENANCY_ROLE_BYPASSRLS" },
          { code: "ERR_TENANCY_RLS_DISABLED", table: `"${schema}"."no_rls"` },
          { code: "ERR_TENANCY_RLS_NOT_FORCED", table: `"${schema}"."unforced"` },
        ],
      });
    });

    it("checks under SET ROLE when given a role, and refuses the superuser login behind it", async () => {
      const error = await failure(assertTenantIsolation(admin, { tables, role: appRole }));
      expect(isBulwarkError(error, "ERR_TENANCY_ROLE_SUPERUSER")).toBe(true);
      expect(error.message).toMatch(/RESET ROLE/);
      const logger = memoryLogger();
      const report = await assertTenantIsolation(admin, {
        tables,
        role: appRole,
        dangerouslyAllowSuperuserSession: true,
        logger,
      });
      expect(report.role).toBe(appRole);
      expect(logger.entries.filter((e) => e.level === "warn")).toHaveLength(1);
    });

    it("rejects bad options", async () => {
      await expect(assertTenantIsolation(app, { tables: [] })).rejects.toMatchObject({
        code: "ERR_CONFIG_INVALID",
      });
      await expect(assertTenantIsolation(app, { tables: ["a;b"] })).rejects.toMatchObject({
        code: "ERR_CONFIG_INVALID",
      });
      await expect(assertTenantIsolation(app, { tabels: [lessons] } as never)).rejects.toMatchObject({
        code: "ERR_CONFIG_INVALID",
      });
    });
  });

  describe("enableTenantRls", () => {
    it("is idempotent", async () => {
      await enableTenantRls(admin, lessons);
      await enableTenantRls(admin, lessons);
      const { rows } = await admin.query("SELECT polname FROM pg_policy WHERE polrelid = to_regclass($1)", [
        lessons,
      ]);
      expect(rows).toEqual([{ polname: "bulwark_tenant_isolation" }]);
      await assertTenantIsolation(app, { tables: [lessons] });
    });

    it("refuses a missing table and a tenant column that is not uuid", async () => {
      expect(
        isBulwarkError(await failure(enableTenantRls(admin, `${schema}.nope`)), "ERR_TENANCY_TABLE_MISSING"),
      ).toBe(true);
      const textual = await failure(enableTenantRls(admin, `${schema}.textual`));
      expect(isBulwarkError(textual, "ERR_CONFIG_INVALID")).toBe(true);
      expect(textual.message).toMatch(/uuid/);
      const noColumn = await failure(enableTenantRls(admin, lessons, { column: "school_id" }));
      expect(isBulwarkError(noColumn, "ERR_CONFIG_INVALID")).toBe(true);
    });
  });
});
