import type { PGlite } from "@electric-sql/pglite";
import { type Kysely, sql } from "kysely";
import type pg from "pg";
import {
  type AccessTokens,
  accessTokens,
  credentialEpoch,
  type EnumerationSafeFlow,
  enumerationSafe,
  type OneTimeTokens,
  oneTimeTokens,
  type PasswordHasher,
  passwordHasher,
  passwordLogin,
  type RefreshTokens,
  refreshTokens,
  type SessionCookie,
  sessionCookie,
} from "../../src/auth/index.js";
import type { Logger } from "../../src/core/logger.js";
import type { LoginGuard } from "../../src/ratelimit/index.js";
import { postgresAuthStore } from "../../src/stores/postgres/index.js";
import type { Database } from "../db/schema.js";
import { withoutSchool, withSchool } from "../db/tenant.js";

/** An account as bulwark/auth's passwordLogin sees it, with the school it belongs to. */
export interface SchoolAccount {
  readonly id: string;
  readonly passwordHash: string | null;
  readonly schoolId: string;
}

/** bulwark/auth, assembled for the app. */
export interface AuthKit {
  readonly passwords: PasswordHasher;
  readonly login: ReturnType<typeof passwordLogin<SchoolAccount>>;
  readonly access: AccessTokens;
  readonly refresh: RefreshTokens;
  readonly oneTime: OneTimeTokens;
  readonly accessCookie: SessionCookie;
  readonly refreshCookie: SessionCookie;
  /** Forgot-password: one answer whatever the address; the work runs after the response. */
  readonly passwordReset: EnumerationSafeFlow<string>;
}

export const ACCESS_TTL_SECONDS = 15 * 60;
export const REFRESH_TTL_SECONDS = 14 * 24 * 3600;

/**
 * One-time token account ids name their school, so a token alone leads to the right tenant:
 * `user:<schoolId>:<userId>` (password reset), `booking:<schoolId>:<bookingId>` (e-mail verification).
 */
export function accountRef(kind: "user" | "booking", schoolId: string, id: string): string {
  return `${kind}:${schoolId}:${id}`;
}

export function parseAccountRef(
  value: string,
): { kind: "user" | "booking"; schoolId: string; id: string } | undefined {
  const m = /^(user|booking):([0-9a-f-]{36}):([0-9a-f-]{36})$/.exec(value);
  return m ? { kind: m[1] as "user" | "booking", schoolId: m[2] as string, id: m[3] as string } : undefined;
}

/** Looks an account up by e-mail across schools (the one definer function), then reads it in its school. */
export async function findAccount(db: Kysely<Database>, email: string): Promise<SchoolAccount | undefined> {
  const found = await withoutSchool(db, async (tx) => {
    const r = await sql<{
      user_id: string;
      school_id: string;
    }>`select * from app_login_lookup(${email})`.execute(tx);
    return r.rows[0];
  });
  if (!found) return undefined;
  const row = await withSchool(db, found.school_id, (tx) =>
    tx.selectFrom("users").select("password_hash").where("id", "=", found.user_id).executeTakeFirst(),
  );
  return row && { id: found.user_id, passwordHash: row.password_hash, schoolId: found.school_id };
}

export async function createAuthKit(options: {
  db: Kysely<Database>;
  client: PGlite | pg.Pool;
  sessionSecret: string;
  origin: string;
  throttle: LoginGuard;
  logger: Logger;
  /** The work behind forgot-password (given the normalised address). */
  resetWork: (email: string) => Promise<void>;
}): Promise<AuthKit> {
  const { db } = options;
  const store = postgresAuthStore({ client: options.client });
  await store.migrate();
  const passwords = passwordHasher({ logger: options.logger });
  return {
    passwords,
    login: passwordLogin<SchoolAccount>({
      findAccount: (email) => findAccount(db, email),
      hasher: passwords,
      throttle: options.throttle,
      onRehash: (account, hash) =>
        withSchool(db, account.schoolId, (tx) =>
          tx.updateTable("users").set({ password_hash: hash }).where("id", "=", account.id).execute(),
        ).then(() => undefined),
      logger: options.logger,
    }),
    access: accessTokens({
      keys: [{ kid: "session-1", alg: "HS256", secret: options.sessionSecret }],
      issuer: options.origin,
      audience: "music-school",
      ttlSeconds: ACCESS_TTL_SECONDS,
    }),
    refresh: refreshTokens({ store, idleTimeoutMs: REFRESH_TTL_SECONDS * 1000, logger: options.logger }),
    oneTime: oneTimeTokens({
      store,
      // Users: a fingerprint of the stored hash (any password change kills outstanding links).
      // Bookings: their address never changes, so their epoch is constant (issued before the row exists).
      currentEpoch: async (ref) => {
        const a = parseAccountRef(ref);
        if (!a) return undefined;
        if (a.kind === "booking") return "booking";
        const u = await withSchool(db, a.schoolId, (tx) =>
          tx.selectFrom("users").select("password_hash").where("id", "=", a.id).executeTakeFirst(),
        );
        return u ? credentialEpoch(u.password_hash) : undefined;
      },
    }),
    // The access token rides in a cookie too (the SPA never sees it); both are HttpOnly, Secure, Strict.
    accessCookie: sessionCookie({ name: "__Host-access", maxAgeSeconds: ACCESS_TTL_SECONDS }),
    refreshCookie: sessionCookie({ name: "__Host-refresh", maxAgeSeconds: REFRESH_TTL_SECONDS }),
    passwordReset: enumerationSafe<string>({ work: options.resetWork, logger: options.logger }),
  };
}

/** The school of a user, from the user id alone (refresh tokens carry only that). */
export async function schoolOfUser(db: Kysely<Database>, userId: string): Promise<string | undefined> {
  if (!/^[0-9a-f-]{36}$/.test(userId)) return undefined;
  const { rows } = await withoutSchool(db, (tx) =>
    sql<{ school: string | null }>`select app_user_school(${userId}::uuid) as school`.execute(tx),
  );
  return rows[0]?.school ?? undefined;
}
