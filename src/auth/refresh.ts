import { randomUUID } from "node:crypto";
import { type Clock, systemClock } from "../core/clock.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, integer } from "../core/options.js";
import { isTokenShaped, randomToken, tokenDigest } from "./secrets.js";
import type { RefreshTokenStore, SessionRecord } from "./store.js";

/**
 * Refresh-token sessions (OAuth 2.0 Security BCP, RFC 9700 §4.14.2): each login starts a family;
 * every refresh swaps the presented token for a new one; presenting a token that was already swapped
 * means two parties hold the family's tokens (the legitimate client and a thief — we cannot tell
 * which is which), so the whole family is revoked and both must log in again.
 *
 * Concurrent refreshes with one token: exactly one wins. The loser presents a token that is now
 * rotated, which is — by the rule above — reuse, so the family is revoked (the default). A client
 * that legitimately races itself (two tabs) should serialise its refreshes; if that is impossible,
 * `dangerouslyAllowReuseWithinMs` answers the loser with a plain failure instead, for that many ms
 * after the rotation, at the cost of letting a thief's token race go unnoticed for that long.
 */

const DAY_MS = 86_400_000;

export interface RefreshTokenOptions {
  /** Where families and token digests live: `memoryAuthStore()` or `postgresAuthStore()`. */
  store: RefreshTokenStore;
  /** A refresh token unused for this long expires (default 14 days). */
  idleTimeoutMs?: number;
  /** A session ends this long after login whatever its use (default 30 days). */
  absoluteTimeoutMs?: number;
  /**
   * Grace after a rotation during which presenting the old token again is refused without revoking
   * the session (default 0: never). At most 60 s; logs a warning once when set.
   */
  dangerouslyAllowReuseWithinMs?: number;
  clock?: Clock;
  /** Reuse detections are logged here as warnings (default: consoleLogger). */
  logger?: Logger;
}

/** Optional request context stored with the session for the session list. */
export interface SessionContext {
  /** The User-Agent header (truncated to 256 characters). */
  userAgent?: string | undefined;
  /** The client IP (truncated to 64 characters). */
  ip?: string | undefined;
}

export interface IssuedRefreshToken {
  /** The opaque token for the client (cookie or response body). Never stored. */
  readonly token: string;
  readonly sessionId: string;
  /** When the token expires if unused. */
  readonly expiresAtMs: number;
}

export type RefreshFailureReason = "unknown" | "expired" | "revoked" | "reused" | "superseded";

export type RefreshDecision =
  | {
      readonly ok: true;
      readonly token: string;
      readonly accountId: string;
      readonly sessionId: string;
      readonly expiresAtMs: number;
    }
  | {
      readonly ok: false;
      /** One public code for every failure: the client's only move is to log in again. */
      readonly code: "ERR_REFRESH_TOKEN_INVALID";
      /** For logs and alerts, never for the client. "reused": this call revoked the session. */
      readonly reason: RefreshFailureReason;
      readonly accountId?: string;
      readonly sessionId?: string;
    };

export interface RefreshTokens {
  /** Starts a session for an account after a successful login. */
  issue(accountId: string, context?: SessionContext): Promise<IssuedRefreshToken>;
  /** Exchanges a refresh token for its successor (call it, then sign a new access token). */
  rotate(token: string, context?: SessionContext): Promise<RefreshDecision>;
  /** Logout: revokes the session the token belongs to. Resolves false when it was unknown or already over. */
  revoke(token: string): Promise<boolean>;
  /** Revokes one session of an account (from the session list). */
  revokeSession(accountId: string, sessionId: string): Promise<boolean>;
  /** Logout everywhere: revokes every session of the account; resolves to how many. */
  revokeAll(accountId: string): Promise<number>;
  /** The account's active sessions, most recently used first. */
  listSessions(accountId: string): Promise<SessionRecord[]>;
  /** Deletes sessions that ended more than `retainMs` ago (default 7 days; reuse is detectable until then). */
  purge(retainMs?: number): Promise<number>;
}

const FAIL_UNKNOWN = Object.freeze({
  ok: false,
  code: "ERR_REFRESH_TOKEN_INVALID",
  reason: "unknown",
} as const);

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const CONTROL_RE = /[\u0000-\u001f\u007f]/g;

function clean(value: unknown, max: number): string | undefined {
  if (typeof value !== "string" || value.length === 0) return undefined;
  return value.replace(CONTROL_RE, "").slice(0, max);
}

function checkAccountId(accountId: unknown): asserts accountId is string {
  if (typeof accountId !== "string" || accountId.length === 0 || accountId.length > 256) {
    throw configError("refreshTokens", "accountId must be a non-empty string of at most 256 characters");
  }
}

/** Creates the refresh-token session service over a store. */
export function refreshTokens(options: RefreshTokenOptions): RefreshTokens {
  const where = "refreshTokens";
  const o = checkKeys(where, options, [
    "store",
    "idleTimeoutMs",
    "absoluteTimeoutMs",
    "dangerouslyAllowReuseWithinMs",
    "clock",
    "logger",
  ]);
  const store = o.store as RefreshTokenStore;
  if (store === null || typeof store !== "object" || typeof store.rotate !== "function") {
    throw configError(where, `"store" must be a RefreshTokenStore (memoryAuthStore(), postgresAuthStore())`);
  }
  const absoluteTimeoutMs = integer(where, "absoluteTimeoutMs", o.absoluteTimeoutMs, 30 * DAY_MS, {
    min: 60_000,
    max: 400 * DAY_MS,
  });
  const idleTimeoutMs = integer(
    where,
    "idleTimeoutMs",
    o.idleTimeoutMs,
    Math.min(14 * DAY_MS, absoluteTimeoutMs),
    {
      min: 60_000,
      max: absoluteTimeoutMs,
    },
  );
  const reuseGraceMs = integer(where, "dangerouslyAllowReuseWithinMs", o.dangerouslyAllowReuseWithinMs, 0, {
    min: 0,
    max: 60_000,
  });
  const clock = (o.clock as Clock | undefined) ?? systemClock;
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;
  if (reuseGraceMs > 0) {
    logger.warn(
      { code: "ERR_CONFIG_INVALID", reuseGraceMs },
      "refreshTokens: dangerouslyAllowReuseWithinMs is set; a stolen refresh token used within that window after the legitimate refresh is not detected",
    );
  }

  return {
    async issue(accountId, context = {}) {
      checkAccountId(accountId);
      const token = randomToken();
      const nowMs = clock.now();
      const familyExpiresAtMs = nowMs + absoluteTimeoutMs;
      const tokenExpiresAtMs = Math.min(nowMs + idleTimeoutMs, familyExpiresAtMs);
      const sessionId = randomUUID();
      await store.createFamily({
        familyId: sessionId,
        accountId,
        tokenHash: tokenDigest(token),
        nowMs,
        tokenExpiresAtMs,
        familyExpiresAtMs,
        userAgent: clean(context.userAgent, 256),
        ip: clean(context.ip, 64),
      });
      return { token, sessionId, expiresAtMs: tokenExpiresAtMs };
    },

    async rotate(token, context = {}) {
      if (!isTokenShaped(token)) return FAIL_UNKNOWN;
      const next = randomToken();
      const result = await store.rotate({
        tokenHash: tokenDigest(token),
        newTokenHash: tokenDigest(next),
        nowMs: clock.now(),
        idleTimeoutMs,
        reuseGraceMs,
        userAgent: clean(context.userAgent, 256),
        ip: clean(context.ip, 64),
      });
      switch (result.outcome) {
        case "rotated":
          return {
            ok: true,
            token: next,
            accountId: result.accountId,
            sessionId: result.familyId,
            expiresAtMs: result.expiresAtMs,
          };
        case "reused":
        case "superseded":
        case "revoked":
          if (result.outcome === "reused") {
            logger.warn(
              {
                code: "ERR_REFRESH_TOKEN_INVALID",
                reason: "reused",
                accountId: result.accountId,
                sessionId: result.familyId,
              },
              "refresh token reuse detected: the session is revoked",
            );
          }
          return {
            ok: false,
            code: "ERR_REFRESH_TOKEN_INVALID",
            reason: result.outcome,
            accountId: result.accountId,
            sessionId: result.familyId,
          };
        default:
          return { ok: false, code: "ERR_REFRESH_TOKEN_INVALID", reason: result.outcome };
      }
    },

    async revoke(token) {
      if (!isTokenShaped(token)) return false;
      return (await store.revokeByToken(tokenDigest(token), clock.now(), "logout")) !== undefined;
    },

    async revokeSession(accountId, sessionId) {
      checkAccountId(accountId);
      if (typeof sessionId !== "string" || !/^[0-9a-f-]{36}$/i.test(sessionId)) return false;
      return store.revokeFamily(accountId, sessionId.toLowerCase(), clock.now(), "revoked");
    },

    async revokeAll(accountId) {
      checkAccountId(accountId);
      return store.revokeAccount(accountId, clock.now(), "logout-everywhere");
    },

    async listSessions(accountId) {
      checkAccountId(accountId);
      return store.listFamilies(accountId, clock.now());
    },

    async purge(retainMs = 7 * DAY_MS) {
      return store.purge(clock.now(), retainMs);
    },
  };
}
