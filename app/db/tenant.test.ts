import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import { DATABASE_URL, postgresAvailability } from "../../test/servers.js";
import { type AppDatabase, openDatabase } from "./database.js";
import { withoutSchool, withSchool } from "./tenant.js";

const postgres = await postgresAvailability();

async function seedTwoSchools(app: AppDatabase, suffix: string) {
  const [a, b] = await app.db
    .insertInto("schools")
    .values([
      { slug: `a-${suffix}`, name: "A", stripe_account_id: "acct_a", registration_fee_cents: 100 },
      { slug: `b-${suffix}`, name: "B", stripe_account_id: "acct_b", registration_fee_cents: 100 },
    ])
    .returning("id")
    .execute();
  const user = (schoolId: string, email: string) => ({
    school_id: schoolId,
    email,
    name: email,
    role: "admin" as const,
    password_hash: "x",
  });
  await app.db
    .insertInto("users")
    .values([user(a!.id, `admin-a-${suffix}@example.com`), user(b!.id, `admin-b-${suffix}@example.com`)])
    .execute();
  return { a: a!.id, b: b!.id };
}

function rlsSuite(name: string, open: () => Promise<{ app: AppDatabase; cleanup: () => Promise<void> }>) {
  describe(`row-level security on ${name}`, () => {
    let app: AppDatabase;
    let cleanup: () => Promise<void>;
    let schools: { a: string; b: string };
    const suffix = Math.random().toString(36).slice(2, 8);

    beforeAll(async () => {
      ({ app, cleanup } = await open());
      schools = await seedTwoSchools(app, suffix);
    });
    afterAll(async () => {
      await cleanup?.();
    });

    it("shows a school's transaction only that school's rows, even without a school filter", async () => {
      const emails = await withSchool(app.db, schools.a, (tx) =>
        tx.selectFrom("users").select("email").execute(),
      );
      expect(emails).toEqual([{ email: `admin-a-${suffix}@example.com` }]);
    });

    it("refuses to write a row for another school", async () => {
      await expect(
        withSchool(app.db, schools.a, (tx) =>
          tx
            .insertInto("email_outbox")
            .values({ school_id: schools.b, to_address: "x@example.com", subject: "s", text_body: "t" })
            .execute(),
        ),
      ).rejects.toThrow(/row-level security/);
    });

    it("cannot move a row to another school", async () => {
      await expect(
        withSchool(app.db, schools.a, (tx) =>
          tx.updateTable("users").set({ school_id: schools.b }).execute(),
        ),
      ).rejects.toThrow(/row-level security/);
    });

    it("shows nothing when no school is set", async () => {
      const rows = await withoutSchool(app.db, (tx) => tx.selectFrom("users").select("id").execute());
      expect(rows).toEqual([]);
    });

    it("runs as a role that is neither superuser nor exempt from row-level security", async () => {
      const who = await withSchool(app.db, schools.a, (tx) =>
        sql<{ rolsuper: boolean; rolbypassrls: boolean }>`
          select rolsuper, rolbypassrls from pg_roles where rolname = current_user`.execute(tx),
      );
      expect(who.rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
    });

    it("answers the login lookup for an address, and only that", async () => {
      const rows = await withoutSchool(app.db, (tx) =>
        sql<{
          user_id: string;
          school_id: string;
        }>`select * from app_login_lookup(${`admin-b-${suffix}@example.com`})`.execute(tx),
      );
      expect(rows.rows).toHaveLength(1);
      expect(rows.rows[0]?.school_id).toBe(schools.b);
    });

    it("keeps schools read-only for the app role", async () => {
      await expect(
        withSchool(app.db, schools.a, (tx) => tx.updateTable("schools").set({ name: "pwned" }).execute()),
      ).rejects.toThrow(/permission denied/);
    });
  });
}

rlsSuite("PGlite", async () => {
  const app = await openDatabase();
  return { app, cleanup: () => app.close() };
});

describe.runIf(postgres.available)("PostgreSQL server", () => {
  const schema = `t_app_tenant_${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(() => postgres.assertUnderCi());
  rlsSuite("PostgreSQL", async () => {
    const url = new URL(DATABASE_URL);
    const pg = await import("pg");
    const admin = new pg.default.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    url.searchParams.set("options", `-c search_path=${schema}`);
    const dropSchema = async () => {
      const c = new pg.default.Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    };
    const app = await openDatabase({
      databaseUrl: url.toString(),
      maxConnections: 4,
      dangerouslyAllowSuperuserSession: true, // the test server's login role is the superuser postgres
      logger: silentLogger,
    }).catch(async (error: unknown) => {
      await dropSchema();
      throw error;
    });
    return {
      app,
      cleanup: async () => {
        await app.close();
        await dropSchema();
      },
    };
  });
});
