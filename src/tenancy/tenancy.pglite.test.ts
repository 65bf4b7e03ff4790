import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import { inTransaction } from "./db.js";
import { assertTenantIsolation } from "./guard.js";
import { enableTenantRls } from "./rls.js";
import { withTenant } from "./tenant.js";

const A = "11111111-1111-4111-8111-111111111111";
const B = "22222222-2222-4222-8222-222222222222";

async function failure(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error("expected a failure");
}

/**
 * PGlite runs every statement as the superuser "postgres", which bypasses row-level security. The
 * recipe: create a NOLOGIN role without BYPASSRLS, grant it the tables, and pass it as `role`, so
 * each tenant transaction runs under SET LOCAL ROLE.
 */
describe("tenancy on PGlite", () => {
  let db: PGlite;
  beforeAll(async () => {
    db = new PGlite();
    await db.exec(`
      CREATE TABLE lessons (id serial PRIMARY KEY, tenant_id uuid NOT NULL, title text NOT NULL);
      CREATE TABLE unforced (id serial PRIMARY KEY, tenant_id uuid NOT NULL);
      CREATE ROLE app NOLOGIN NOSUPERUSER NOBYPASSRLS;
      GRANT SELECT, INSERT, UPDATE, DELETE ON lessons, unforced TO app;
      GRANT USAGE ON SEQUENCE lessons_id_seq TO app;
      INSERT INTO lessons (tenant_id, title) VALUES ('${A}', 'a-piano'), ('${B}', 'b-drums');
    `);
    await enableTenantRls(db, "lessons");
    await enableTenantRls(db, "unforced");
    await db.exec("ALTER TABLE unforced NO FORCE ROW LEVEL SECURITY");
  });
  afterAll(async () => {
    await db?.close();
  });

  it("bypasses RLS as PGlite's superuser: without a role, withTenant isolates nothing (the documented limit)", async () => {
    const rows = await withTenant(db, A, async (tx) => (await tx.query("SELECT title FROM lessons")).rows);
    expect(rows).toHaveLength(2);
  });

  it("returns zero rows with no tenant set once the app role is in effect", async () => {
    const rows = await inTransaction(db, async (tx) => {
      await tx.query("SET LOCAL ROLE app");
      return (await tx.query("SELECT * FROM lessons")).rows;
    });
    expect(rows).toEqual([]);
  });

  it("shows a tenant only its rows under the role, and refuses a write into another tenant", async () => {
    const titles = await withTenant(db, A, async (tx) => (await tx.query("SELECT title FROM lessons")).rows, {
      role: "app",
    });
    expect(titles).toEqual([{ title: "a-piano" }]);
    const error = await failure(
      withTenant(db, A, (tx) => tx.query("INSERT INTO lessons (tenant_id, title) VALUES ($1, 'x')", [B]), {
        role: "app",
      }),
    );
    expect(error.code).toBe("42501");
    expect((await db.query("SELECT count(*)::int AS n FROM lessons")).rows).toEqual([{ n: 2 }]);
    // The role was local to the transaction.
    expect((await db.query("SELECT current_user AS u")).rows).toEqual([{ u: "postgres" }]);
  });

  it("start guard: trips for the superuser session, passes for the role only when told the session is superuser", async () => {
    const asSuper = await failure(assertTenantIsolation(db, { tables: ["lessons"] }));
    expect(isBulwarkError(asSuper, "ERR_TENANCY_ROLE_SUPERUSER")).toBe(true);
    const behindRole = await failure(assertTenantIsolation(db, { tables: ["lessons"], role: "app" }));
    expect(isBulwarkError(behindRole, "ERR_TENANCY_ROLE_SUPERUSER")).toBe(true);
    const logger = memoryLogger();
    expect(
      await assertTenantIsolation(db, {
        tables: ["lessons"],
        role: "app",
        dangerouslyAllowSuperuserSession: true,
        logger,
      }),
    ).toEqual({ role: "app", sessionRole: "postgres", tables: ['"lessons"'] });
    expect(logger.entries).toHaveLength(1);
  });

  it("start guard: trips for a table without FORCE, naming it", async () => {
    const error = await failure(
      assertTenantIsolation(db, {
        tables: ["lessons", "unforced"],
        role: "app",
        dangerouslyAllowSuperuserSession: true,
        logger: memoryLogger(),
      }),
    );
    expect(isBulwarkError(error, "ERR_TENANCY_RLS_NOT_FORCED")).toBe(true);
    expect(error.message).toContain('"unforced"');
  });
});
