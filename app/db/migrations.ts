import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from "kysely";

/**
 * The app's schema. Every tenant table carries `school_id`; bulwark/tenancy's `enableTenantRls`
 * gives each one FORCEd row-level security on it (database.ts, after these migrations). The
 * application's requests run as the role `bulwark_app` (no superuser, no BYPASSRLS) with the school
 * set for the transaction (tenant.ts): a query that forgets its school filter sees the current
 * school's rows only, and a transaction with no school set sees nothing at all.
 */

export const APP_ROLE = "bulwark_app";

export const TENANT_TABLES = [
  "users",
  "meet_and_greets",
  "payments",
  "families",
  "students",
  "contacts",
  "email_outbox",
] as const;

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
type AnyDb = Kysely<any>;

async function run(db: AnyDb, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

const initial: Migration = {
  async up(db) {
    await run(db, [
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
           CREATE ROLE ${APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
         END IF;
       END $$`,
      `CREATE TABLE schools (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{2,40}$'),
         name text NOT NULL,
         stripe_account_id text NOT NULL CHECK (stripe_account_id LIKE 'acct\\_%'),
         registration_fee_cents integer NOT NULL CHECK (registration_fee_cents > 0),
         currency text NOT NULL DEFAULT 'eur',
         created_at timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE TABLE families (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         school_id uuid NOT NULL REFERENCES schools(id),
         meet_and_greet_id uuid NOT NULL UNIQUE,
         name text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE TABLE users (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         school_id uuid NOT NULL REFERENCES schools(id),
         email text NOT NULL UNIQUE,
         name text NOT NULL,
         role text NOT NULL CHECK (role IN ('admin', 'teacher', 'parent', 'student')),
         password_hash text NOT NULL,
         must_change_password boolean NOT NULL DEFAULT false,
         password_version integer NOT NULL DEFAULT 0,
         family_id uuid REFERENCES families(id),
         created_at timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE TABLE meet_and_greets (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         school_id uuid NOT NULL REFERENCES schools(id),
         student_name text NOT NULL,
         instrument text NOT NULL,
         contacts jsonb NOT NULL,
         email text NOT NULL,
         notes text NOT NULL DEFAULT '',
         status text NOT NULL DEFAULT 'pending_verification' CHECK (status IN
           ('pending_verification', 'pending_approval', 'approved', 'registered', 'rejected')),
         verified_at timestamptz,
         teacher_id uuid REFERENCES users(id),
         approved_at timestamptz,
         registration_token_hash text UNIQUE,
         registration_expires_at timestamptz,
         registration_used_at timestamptz,
         created_at timestamptz NOT NULL DEFAULT now()
       )`,
      "CREATE INDEX meet_and_greets_school_status ON meet_and_greets (school_id, status, created_at)",
      `CREATE TABLE payments (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         school_id uuid NOT NULL REFERENCES schools(id),
         meet_and_greet_id uuid NOT NULL REFERENCES meet_and_greets(id),
         checkout_session_id text NOT NULL UNIQUE,
         checkout_url text NOT NULL,
         idempotency_key text NOT NULL UNIQUE,
         amount_cents integer NOT NULL CHECK (amount_cents > 0),
         platform_fee_cents integer NOT NULL CHECK (platform_fee_cents >= 0 AND platform_fee_cents <= amount_cents),
         currency text NOT NULL,
         status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'expired')),
         stripe_event_id text UNIQUE,
         created_at timestamptz NOT NULL DEFAULT now(),
         paid_at timestamptz
       )`,
      // A Meet & Greet is paid at most once, whatever the code above the database does.
      "CREATE UNIQUE INDEX payments_one_paid ON payments (meet_and_greet_id) WHERE status = 'paid'",
      "ALTER TABLE families ADD FOREIGN KEY (meet_and_greet_id) REFERENCES meet_and_greets(id)",
      `CREATE TABLE students (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         school_id uuid NOT NULL REFERENCES schools(id),
         family_id uuid NOT NULL REFERENCES families(id),
         name text NOT NULL,
         instrument text NOT NULL,
         teacher_id uuid REFERENCES users(id),
         created_at timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE TABLE contacts (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         school_id uuid NOT NULL REFERENCES schools(id),
         family_id uuid NOT NULL REFERENCES families(id),
         kind text NOT NULL CHECK (kind IN ('primary', 'secondary', 'emergency')),
         name text NOT NULL,
         email text,
         phone text NOT NULL
       )`,
      `CREATE TABLE email_outbox (
         id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
         school_id uuid NOT NULL REFERENCES schools(id),
         to_address text NOT NULL,
         subject text NOT NULL,
         text_body text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
         sent_at timestamptz
       )`,
      // Schools are the tenants themselves: public name and slug, readable by the app role, never written.
      `GRANT SELECT ON schools TO ${APP_ROLE}`,
      `DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO ${APP_ROLE}', current_schema()); END $$`,
      // Login and password reset start from an e-mail address, before any school is known. This one
      // definer function answers exactly "which user and school own this address", nothing else.
      `CREATE FUNCTION app_login_lookup(address text) RETURNS TABLE (user_id uuid, school_id uuid)
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT
         AS $$ SELECT id, school_id FROM users WHERE email = address $$`,
      `REVOKE ALL ON FUNCTION app_login_lookup(text) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION app_login_lookup(text) TO ${APP_ROLE}`,
      // A refresh token names only its user; this answers which school the user belongs to.
      `CREATE FUNCTION app_user_school(id uuid) RETURNS uuid
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT
         AS $$ SELECT school_id FROM users WHERE users.id = app_user_school.id $$`,
      `REVOKE ALL ON FUNCTION app_user_school(uuid) FROM PUBLIC`,
      `GRANT EXECUTE ON FUNCTION app_user_school(uuid) TO ${APP_ROLE}`,
      ...TENANT_TABLES.flatMap((table) => [
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO ${APP_ROLE}`,
        `CREATE INDEX ${table}_school ON ${table} (school_id)`,
      ]),
    ]);
  },
};

const MIGRATIONS: Record<string, Migration> = { "0001_initial": initial };

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/** Applies every pending migration; throws with the failing migration's error. */
export async function migrateToLatest(db: AnyDb): Promise<void> {
  // Kysely looks for its bookkeeping tables in every schema unless told which one: name ours.
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema ?? "public";
  const migrator = new Migrator({ db, provider: new StaticProvider(), migrationTableSchema: schema });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`migration ${failed} failed`, { cause: error });
  }
}
