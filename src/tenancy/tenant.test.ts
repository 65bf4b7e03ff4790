import { describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { inTransaction, quoteName } from "./db.js";
import { tenantRlsSql } from "./rls.js";
import { isTenantId, withTenant } from "./tenant.js";

/** A fake single-connection client recording statements. */
function recorder(fail?: RegExp) {
  const statements: string[] = [];
  return {
    statements,
    async query(text: string, params?: unknown[]) {
      statements.push(params === undefined ? text : `${text} ${JSON.stringify(params)}`);
      if (fail?.test(text)) throw new Error("failed");
      return { rows: [] };
    },
  };
}

describe("withTenant statements", () => {
  it("runs BEGIN, SET LOCAL ROLE, set_config(…, true) with the lower-cased id, fn, COMMIT", async () => {
    const db = recorder();
    const result = await withTenant(
      db,
      "AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA",
      async (tx) => {
        await tx.query("SELECT 1");
        return 7;
      },
      { role: "app_user" },
    );
    expect(result).toBe(7);
    expect(db.statements).toEqual([
      "BEGIN",
      'SET LOCAL ROLE "app_user"',
      'SELECT set_config($1, $2, true) ["app.tenant_id","aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"]',
      "SELECT 1",
      "COMMIT",
    ]);
  });

  it("rolls back and rethrows when fn throws", async () => {
    const db = recorder();
    await expect(
      withTenant(db, "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", async () => {
        throw new Error("nope");
      }),
    ).rejects.toThrow("nope");
    expect(db.statements.at(-1)).toBe("ROLLBACK");
  });

  it("checks out one pooled client, and destroys it when the rollback itself fails", async () => {
    const client = recorder(/ROLLBACK/);
    const released: unknown[] = [];
    const pool = {
      totalCount: 1,
      idleCount: 1,
      query: async () => ({ rows: [] }),
      connect: async () => ({ ...client, release: (e?: unknown) => released.push(e) }),
    };
    await expect(inTransaction(pool, async () => Promise.reject(new Error("x")))).rejects.toThrow("x");
    expect(released).toHaveLength(1);
    expect(released[0]).toBeInstanceOf(Error);
    await inTransaction(pool, async () => 1);
    expect(released[1]).toBe(false);
  });

  it("refuses a role that is not a plain identifier", async () => {
    await expect(
      withTenant(recorder(), "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", async () => 1, {
        role: "x; RESET ROLE",
      }),
    ).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    await expect(
      withTenant(recorder(), "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", async () => 1, { role: "a.b" }),
    ).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    await expect(
      withTenant({} as never, "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", async () => 1),
    ).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
  });

  it("accepts canonical UUIDs only", () => {
    expect(isTenantId("11111111-1111-4111-8111-111111111111")).toBe(true);
    expect(isTenantId("00000000-0000-0000-0000-000000000000")).toBe(true);
    for (const bad of ["", "{11111111-1111-4111-8111-111111111111}", "11111111111141118111111111111111", 1]) {
      expect(isTenantId(bad)).toBe(false);
    }
  });
});

describe("tenantRlsSql", () => {
  it("enables and forces RLS and installs the NULLIF policy for USING and WITH CHECK", () => {
    const predicate = `"school_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid`;
    expect(tenantRlsSql("public.lessons", { column: "school_id" })).toEqual([
      'ALTER TABLE "public"."lessons" ENABLE ROW LEVEL SECURITY',
      'ALTER TABLE "public"."lessons" FORCE ROW LEVEL SECURITY',
      'DROP POLICY IF EXISTS "bulwark_tenant_isolation" ON "public"."lessons"',
      `CREATE POLICY "bulwark_tenant_isolation" ON "public"."lessons" AS PERMISSIVE FOR ALL TO PUBLIC USING (${predicate}) WITH CHECK (${predicate})`,
    ]);
  });

  it("refuses names that could inject SQL", () => {
    for (const bad of ['lessons"; DROP TABLE x; --', "a.b.c", "", "lessons tenant"]) {
      try {
        tenantRlsSql(bad);
        throw new Error(`accepted ${bad}`);
      } catch (error) {
        expect(isBulwarkError(error, "ERR_CONFIG_INVALID"), bad).toBe(true);
      }
    }
    expect(() => tenantRlsSql("lessons", { column: "tenant id" })).toThrow(/column/);
    expect(() => tenantRlsSql("lessons", { colum: "x" } as never)).toThrow(/did you mean "column"/);
    expect(quoteName("t", "Mixed_Case")).toBe('"Mixed_Case"');
  });
});
