import { isBulwarkError } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, fn } from "../core/options.js";
import type { RespondOutcome } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import { defaultPasswordHasher, type PasswordHasher } from "./password.js";

/**
 * The password-login flow with no account oracle: an unknown account costs the same argon2 work as
 * a wrong password (dummy verification) and gets the same status, body and headers. Brute-force
 * lockout and per-IP limits are not re-implemented here: pass the rate-limit module's
 * `loginGuard()` (or anything of the same shape) as `throttle`.
 */

/** What `findAccount` returns for an existing account. */
export interface LoginAccount {
  readonly id: string;
  /** The stored argon2 or bcrypt hash; `null`/empty for accounts without a password (dummy verify). */
  readonly passwordHash: string | null;
}

/** The answer of a throttle's check; `loginGuard` from bulwark/ratelimit returns exactly this shape. */
export interface ThrottleDecision {
  readonly allowed: boolean;
  readonly retryAfterMs: number;
  readonly code?: string | undefined;
}

/**
 * Lockout by account, IP and account+IP. `loginGuard({ maxFailures, windowMs, lockoutMs })` from
 * bulwark/ratelimit fits as is; its answers never depend on whether the account exists.
 */
export interface LoginThrottle {
  check(account: string, ip: string): Promise<ThrottleDecision>;
  recordFailure(account: string, ip: string): Promise<unknown>;
  recordSuccess(account: string, ip: string): Promise<unknown>;
  /** Optional: the attempt `check` admitted was not made after all (hasher busy, an error). */
  cancel?(account: string, ip: string): Promise<unknown>;
}

export interface PasswordLoginOptions<A extends LoginAccount> {
  /** Looks an account up by the identifier as typed (email, user name); `undefined` when unknown. */
  findAccount: (identifier: string) => Promise<A | undefined>;
  /** The hasher (default: the process-wide `hashPassword` hasher). Share one per process. */
  hasher?: PasswordHasher;
  /** Lockout (e.g. `loginGuard()` from bulwark/ratelimit). Default: none — add one in production. */
  throttle?: LoginThrottle;
  /**
   * Called after a successful login whose hash is outdated (bcrypt, older argon2 costs) with a fresh
   * argon2id hash to store. Failures are logged, never fail the login. Default: no rehash.
   */
  onRehash?: (account: A, newHash: string) => Promise<void>;
  /** Where rehash and throttle failures are logged (default: consoleLogger). */
  logger?: Logger;
}

export interface LoginAttempt {
  /** The account name as typed. */
  readonly identifier: string;
  readonly password: string;
  /** The client IP (resolved through trusted proxies by the caller). */
  readonly ip: string;
}

export type LoginFailureCode =
  | "ERR_LOGIN_FAILED"
  | "ERR_LOGIN_LOCKED"
  | "ERR_PASSWORD_HASHER_BUSY"
  | "ERR_RATELIMIT_STORE_UNAVAILABLE";

export type LoginResult<A extends LoginAccount> =
  | { readonly ok: true; readonly account: A; readonly rehashed: boolean }
  | {
      readonly ok: false;
      readonly status: 401 | 429 | 503;
      readonly code: LoginFailureCode;
      /** When to try again (429, 503); 0 otherwise. */
      readonly retryAfterMs: number;
    };

const FAILED = Object.freeze({ ok: false, status: 401, code: "ERR_LOGIN_FAILED", retryAfterMs: 0 } as const);
const BUSY = Object.freeze({
  ok: false,
  status: 503,
  code: "ERR_PASSWORD_HASHER_BUSY",
  retryAfterMs: 1000,
} as const);

/**
 * Creates the login function. Order: throttle check (no hashing while locked) → account lookup →
 * argon2 verify, or the dummy verify for unknown accounts and too-long passwords' refusal → record
 * the failure/success with the throttle → rehash when needed.
 */
export function passwordLogin<A extends LoginAccount>(
  options: PasswordLoginOptions<A>,
): (attempt: LoginAttempt) => Promise<LoginResult<A>> {
  const where = "passwordLogin";
  const o = checkKeys(where, options, ["findAccount", "hasher", "throttle", "onRehash", "logger"]);
  const findAccount = fn<(identifier: string) => Promise<A | undefined>>(
    where,
    "findAccount",
    o.findAccount,
    undefined,
  );
  if (findAccount === undefined) throw configError(where, `"findAccount" is required`);
  const hasher = (o.hasher as PasswordHasher | undefined) ?? defaultPasswordHasher();
  if (typeof hasher.verify !== "function")
    throw configError(where, `"hasher" must come from passwordHasher()`);
  const throttle = o.throttle as LoginThrottle | undefined;
  if (
    throttle !== undefined &&
    (typeof throttle.check !== "function" ||
      typeof throttle.recordFailure !== "function" ||
      typeof throttle.recordSuccess !== "function")
  ) {
    throw configError(
      where,
      `"throttle" must have check, recordFailure and recordSuccess (e.g. loginGuard())`,
    );
  }
  const onRehash = fn<(account: A, newHash: string) => Promise<void>>(
    where,
    "onRehash",
    o.onRehash,
    undefined,
  );
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;

  async function fail(identifier: string, ip: string): Promise<LoginResult<A>> {
    if (throttle !== undefined) await throttle.recordFailure(identifier, ip);
    return FAILED;
  }

  return async ({ identifier, password, ip }) => {
    if (throttle !== undefined) {
      const decision = await throttle.check(identifier, ip);
      if (!decision.allowed) {
        const code =
          decision.code === "ERR_RATELIMIT_STORE_UNAVAILABLE"
            ? "ERR_RATELIMIT_STORE_UNAVAILABLE"
            : "ERR_LOGIN_LOCKED";
        return {
          ok: false,
          status: code === "ERR_LOGIN_LOCKED" ? 429 : 503,
          code,
          retryAfterMs: Math.max(1000, decision.retryAfterMs),
        };
      }
    }
    let account: A | undefined;
    try {
      account = await findAccount(identifier);
    } catch (error) {
      await throttle?.cancel?.(identifier, ip);
      throw error;
    }
    let check: { ok: boolean; needsRehash: boolean };
    try {
      check = await hasher.verify(account?.passwordHash, password, { key: ip });
    } catch (error) {
      if (isBulwarkError(error, "ERR_PASSWORD_HASHER_BUSY")) {
        // No password was checked: the attempt's hold goes back to the throttle.
        await throttle?.cancel?.(identifier, ip);
        return BUSY;
      }
      // Over-long or non-string passwords: refused before hashing, answered like any wrong password.
      if (isBulwarkError(error, "ERR_PASSWORD_TOO_LONG") || isBulwarkError(error, "ERR_PASSWORD_INVALID")) {
        return fail(identifier, ip);
      }
      await throttle?.cancel?.(identifier, ip);
      throw error;
    }
    if (!check.ok || account === undefined) return fail(identifier, ip);

    if (throttle !== undefined) await throttle.recordSuccess(identifier, ip);
    let rehashed = false;
    if (check.needsRehash && onRehash !== undefined) {
      try {
        await onRehash(account, await hasher.hash(password, { key: ip }));
        rehashed = true;
      } catch (error) {
        logger.warn(
          { code: isBulwarkError(error) ? error.code : "ERR_PASSWORD_REHASH_FAILED", accountId: account.id },
          "passwordLogin: rehash after a successful login failed; the old hash stays",
        );
      }
    }
    return { ok: true, account, rehashed };
  };
}

const TITLES: Record<LoginFailureCode, string> = {
  ERR_LOGIN_FAILED: "Invalid account name or password",
  ERR_LOGIN_LOCKED: "Too many failed logins; try again later",
  ERR_PASSWORD_HASHER_BUSY: "Service busy; try again shortly",
  ERR_RATELIMIT_STORE_UNAVAILABLE: "Service unavailable; try again shortly",
};

/**
 * The HTTP answer for a failed login: application/problem+json with a fixed title per code and
 * `Retry-After` (integer seconds ≥ 1) on 429/503. Identical bytes for unknown accounts and wrong
 * passwords.
 */
export function loginProblem(result: Extract<LoginResult<LoginAccount>, { ok: false }>): RespondOutcome {
  const headers: Array<readonly [string, string]> =
    result.status === 401
      ? []
      : [["retry-after", String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)))]];
  return problem(result.status, result.code, TITLES[result.code], headers);
}
