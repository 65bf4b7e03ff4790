import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { hashPassword } from "../src/auth/index.js";
import type { Database } from "./db/schema.js";
import { temporaryPassword } from "./tokens.js";

export interface SeededSchool {
  id: string;
  slug: string;
  name: string;
  admin: { email: string; password: string };
  teachers: { id: string; name: string }[];
}

export interface SeedOptions {
  /** Fixed admin password (tests); default a random one per school, printed at start. */
  adminPassword?: string;
}

const SCHOOLS = [
  {
    slug: "riverside",
    name: "Riverside Music School",
    stripe_account_id: "acct_1RiversideDemo",
    registration_fee_cents: 12_500,
    teachers: ["Clara Wieck", "Pablo Casals"],
  },
  {
    slug: "hillside",
    name: "Hillside Conservatory",
    stripe_account_id: "acct_1HillsideDemo",
    registration_fee_cents: 9_900,
    teachers: ["Nadia Boulanger"],
  },
] as const;

/**
 * Demo data for `npm start`: two schools (two tenants, to see the isolation), each with an admin
 * and teachers. Runs as the database owner, only when there is no school yet; returns what it made.
 */
export async function seedDemo(
  db: Kysely<Database>,
  options: SeedOptions = {},
): Promise<SeededSchool[] | undefined> {
  const existing = await db.selectFrom("schools").select("id").limit(1).executeTakeFirst();
  if (existing) return undefined;
  const out: SeededSchool[] = [];
  // Teachers never sign in in the demo: their password is random and discarded.
  const unusable = await hashPassword(randomBytes(32).toString("base64url"));
  for (const spec of SCHOOLS) {
    const { teachers, ...school } = spec;
    const row = await db
      .insertInto("schools")
      .values(school)
      .returning(["id", "slug", "name"])
      .executeTakeFirstOrThrow();
    const password = options.adminPassword ?? temporaryPassword();
    const email = `admin@${spec.slug}.test`;
    await db
      .insertInto("users")
      .values({
        school_id: row.id,
        email,
        name: `${spec.name} office`,
        role: "admin",
        password_hash: await hashPassword(password),
      })
      .execute();
    const teacherRows = await db
      .insertInto("users")
      .values(
        teachers.map((name) => ({
          school_id: row.id,
          email: `${name.toLowerCase().replace(/[^a-z]+/g, ".")}@${spec.slug}.test`,
          name,
          role: "teacher" as const,
          password_hash: unusable,
        })),
      )
      .returning(["id", "name"])
      .execute();
    out.push({ ...row, admin: { email, password }, teachers: teacherRows });
  }
  return out;
}
