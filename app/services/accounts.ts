import { credentialEpoch } from "../../src/auth/index.js";
import { accountRef, findAccount, parseAccountRef, schoolOfUser } from "../auth/kit.js";
import { passwordProblem } from "../auth/passwords.js";
import type { AppContext } from "../context.js";
import type { Role } from "../db/schema.js";
import { type Tx, withoutSchool, withSchool } from "../db/tenant.js";
import { problems } from "../http-problem.js";
import { enqueueEmail } from "../mail/outbox.js";

/**
 * Accounts on bulwark/auth: passwordLogin (argon2id under a bound keyed by client IP, lockout by
 * bulwark/ratelimit's loginGuard, no account oracle), HS256 access tokens (15 minutes), refresh
 * tokens rotated on every use with reuse detection, one-time reset links bound to the password.
 */

export interface SessionUser {
  id: string;
  schoolId: string;
  schoolSlug: string;
  schoolName: string;
  email: string;
  name: string;
  role: Role;
  mustChangePassword: boolean;
  /** The refresh-token session (family) of this login. */
  family: string;
}

export interface IssuedSession {
  user: SessionUser;
  accessToken: string;
  refreshToken: string;
}

export interface Caller {
  ip: string;
  userAgent?: string | undefined;
}

async function loadUser(tx: Tx, userId: string, family: string): Promise<SessionUser | undefined> {
  const row = await tx
    .selectFrom("users as u")
    .innerJoin("schools as s", "s.id", "u.school_id")
    .select([
      "u.id",
      "u.school_id",
      "u.email",
      "u.name",
      "u.role",
      "u.must_change_password",
      "s.slug",
      "s.name as school_name",
    ])
    .where("u.id", "=", userId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    schoolId: row.school_id,
    schoolSlug: row.slug,
    schoolName: row.school_name,
    email: row.email,
    name: row.name,
    role: row.role,
    mustChangePassword: row.must_change_password,
    family,
  };
}

function context(caller: Caller) {
  return { ip: caller.ip, ...(caller.userAgent ? { userAgent: caller.userAgent } : {}) };
}

async function session(
  ctx: AppContext,
  schoolId: string,
  userId: string,
  sessionId: string,
  refreshToken: string,
) {
  const user = await withSchool(ctx.db, schoolId, (tx) => loadUser(tx, userId, sessionId));
  if (!user) return undefined;
  const accessToken = await ctx.auth.access.sign(user.id, { sch: user.schoolId, sid: sessionId });
  return { user, accessToken, refreshToken } satisfies IssuedSession;
}

export type LoginOutcome =
  | { ok: true; session: IssuedSession }
  | Extract<Awaited<ReturnType<AppContext["auth"]["login"]>>, { ok: false }>;

/** bulwark/auth's passwordLogin (throttle, bounded hashing, no oracle), then a new session. */
export async function login(
  ctx: AppContext,
  email: string,
  password: string,
  caller: Caller,
): Promise<LoginOutcome> {
  const result = await ctx.auth.login({ identifier: email, password, ip: caller.ip });
  if (!result.ok) return result;
  const { token, sessionId } = await ctx.auth.refresh.issue(result.account.id, context(caller));
  const issued = await session(ctx, result.account.schoolId, result.account.id, sessionId, token);
  if (!issued) throw new Error("account vanished during login");
  return { ok: true, session: issued };
}

async function claimsOf(ctx: AppContext, accessToken: string | undefined) {
  if (!accessToken) return undefined;
  const verified = await ctx.auth.access.verify(accessToken);
  if (!verified.ok) return undefined;
  const { sch, sid } = verified.claims as { sch?: unknown; sid?: unknown };
  if (typeof sch !== "string" || typeof sid !== "string") return undefined;
  return { sub: verified.subject, sch, sid };
}

/** The user behind a valid access token whose session is still live (logout ends it at once). */
export async function authenticate(
  ctx: AppContext,
  accessToken: string | undefined,
): Promise<SessionUser | undefined> {
  const claims = await claimsOf(ctx, accessToken);
  if (!claims) return undefined;
  const live = await ctx.auth.refresh.listSessions(claims.sub);
  if (!live.some((s) => s.sessionId === claims.sid)) return undefined;
  return withSchool(ctx.db, claims.sch, (tx) => loadUser(tx, claims.sub, claims.sid));
}

/** The CSRF session binding: the session named by a valid access token. */
export async function sessionFamily(
  ctx: AppContext,
  accessToken: string | undefined,
): Promise<string | undefined> {
  return (await claimsOf(ctx, accessToken))?.sid;
}

/** Rotates a refresh token; a rotated token presented again revokes its whole session (reuse detection). */
export async function refresh(
  ctx: AppContext,
  refreshToken: string | undefined,
  caller: Caller,
): Promise<IssuedSession | undefined> {
  if (!refreshToken) return undefined;
  const rotated = await ctx.auth.refresh.rotate(refreshToken, context(caller));
  if (!rotated.ok) return undefined;
  const schoolId = await schoolOfUser(ctx.db, rotated.accountId);
  if (!schoolId) return undefined;
  return session(ctx, schoolId, rotated.accountId, rotated.sessionId, rotated.token);
}

/** Ends this login (its refresh session). */
export async function logout(ctx: AppContext, user: SessionUser): Promise<void> {
  await ctx.auth.refresh.revokeSession(user.id, user.family);
}

function weakness(user: { email: string; name: string }, password: string): string | undefined {
  return passwordProblem(password, [user.email.split("@")[0] ?? "", ...user.name.split(" ")]);
}

/** Stores a new hash only if the stored one is still `expectedHash` (compare-and-set). */
async function setPassword(
  ctx: AppContext,
  schoolId: string,
  userId: string,
  expectedHash: string,
  hash: string,
) {
  const r = await withSchool(ctx.db, schoolId, (tx) =>
    tx
      .updateTable("users")
      .set({ password_hash: hash, must_change_password: false })
      .where("id", "=", userId)
      .where("password_hash", "=", expectedHash)
      .executeTakeFirst(),
  );
  return r.numUpdatedRows === 1n;
}

export async function changePassword(
  ctx: AppContext,
  user: SessionUser,
  currentPassword: string,
  newPassword: string,
  caller: Caller,
): Promise<void> {
  const weak = weakness(user, newPassword);
  if (weak) throw problems.invalidInput([{ path: "newPassword", message: weak }]);
  if (newPassword === currentPassword) {
    throw problems.invalidInput([{ path: "newPassword", message: "must differ from the current password" }]);
  }
  const row = await withSchool(ctx.db, user.schoolId, (tx) =>
    tx.selectFrom("users").select("password_hash").where("id", "=", user.id).executeTakeFirstOrThrow(),
  );
  if (!(await ctx.auth.passwords.verify(row.password_hash, currentPassword, { key: caller.ip })).ok) {
    throw problems.loginFailed();
  }
  const hash = await ctx.auth.passwords.hash(newPassword, { key: caller.ip });
  if (!(await setPassword(ctx, user.schoolId, user.id, row.password_hash, hash))) throw problems.conflict();
  // Every other login of this account ends; this one continues. Reset links died with the old hash.
  for (const s of await ctx.auth.refresh.listSessions(user.id)) {
    if (s.sessionId !== user.family) await ctx.auth.refresh.revokeSession(user.id, s.sessionId);
  }
  await ctx.auth.oneTime.revokeAll(accountRef("user", user.schoolId, user.id), "reset-password");
}

/** The work behind forgot-password: mails a reset link if the address has an account. */
export async function sendPasswordReset(ctx: AppContext, email: string): Promise<void> {
  const account = await findAccount(ctx.db, email);
  if (!account) return;
  const { token } = await ctx.auth.oneTime.issue({
    accountId: accountRef("user", account.schoolId, account.id),
    purpose: "reset-password",
  });
  await withSchool(ctx.db, account.schoolId, async (tx) => {
    const school = await tx
      .selectFrom("schools")
      .selectAll()
      .where("id", "=", account.schoolId)
      .executeTakeFirstOrThrow();
    await enqueueEmail(tx, {
      schoolId: account.schoolId,
      to: email,
      subject: `${school.name}: reset your password`,
      text:
        "Someone asked to reset the password of this account. If it was you, choose a new password " +
        `within 30 minutes:\n\n${ctx.origin}/reset-password?school=${school.slug}&token=${token}\n\n` +
        `Otherwise ignore this message.\n\n${school.name}`,
    });
  });
  void ctx.mailer.flush();
}

/**
 * Consumes a reset link (exactly once, 30 minutes, dead after any password change), sets the
 * password with a compare-and-set on the credential the link was bound to, then ends every login.
 */
export async function completePasswordReset(
  ctx: AppContext,
  slug: string,
  token: string,
  newPassword: string,
): Promise<void> {
  // Check what can be checked before spending the link, so a short password does not burn it.
  const early = passwordProblem(newPassword);
  if (early) throw problems.invalidInput([{ path: "newPassword", message: early }]);
  const school = await withoutSchool(ctx.db, (tx) =>
    tx.selectFrom("schools").select("id").where("slug", "=", slug).executeTakeFirst(),
  );
  if (!school) throw problems.tokenInvalid();
  const consumed = await ctx.auth.oneTime.consume(token, "reset-password");
  const a = consumed.ok ? parseAccountRef(consumed.accountId) : undefined;
  if (!consumed.ok || a?.kind !== "user" || a.schoolId !== school.id) throw problems.tokenInvalid();
  const user = await withSchool(ctx.db, a.schoolId, (tx) =>
    tx
      .selectFrom("users")
      .select(["email", "name", "password_hash"])
      .where("id", "=", a.id)
      .executeTakeFirst(),
  );
  if (!user || credentialEpoch(user.password_hash) !== consumed.epoch) throw problems.tokenInvalid();
  const weak = weakness(user, newPassword);
  if (weak) throw problems.invalidInput([{ path: "newPassword", message: weak }]);
  const hash = await ctx.auth.passwords.hash(newPassword);
  if (!(await setPassword(ctx, a.schoolId, a.id, user.password_hash, hash))) throw problems.tokenInvalid();
  await ctx.auth.refresh.revokeAll(a.id);
}
