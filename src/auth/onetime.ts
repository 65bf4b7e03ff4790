import { type Clock, systemClock } from "../core/clock.js";
import { timingSafeEqual } from "../core/compare.js";
import { checkKeys, configError, fn } from "../core/options.js";
import { isTokenShaped, randomToken, tokenDigest } from "./secrets.js";
import type { OneTimeTokenStore } from "./store.js";

/**
 * One-time tokens for email verification, password reset and magic links: 256-bit random, stored as
 * a SHA-256 digest, consumed atomically (of two concurrent uses exactly one succeeds), and bound to
 * a credential epoch so a password change invalidates every outstanding token: the epoch recorded
 * at issue must still be the account's current one when the token is used.
 */

const MINUTE = 60_000;

/** Default lifetimes: email verification 24 h, password reset 30 min, magic link 15 min. */
export const ONE_TIME_TOKEN_TTL_MS: Readonly<Record<string, number>> = Object.freeze({
  "verify-email": 24 * 60 * MINUTE,
  "reset-password": 30 * MINUTE,
  "magic-link": 15 * MINUTE,
});

export type OneTimePurpose = "verify-email" | "reset-password" | "magic-link" | (string & {});

export interface OneTimeTokenOptions {
  store: OneTimeTokenStore;
  /**
   * The account's current credential epoch for a purpose, or undefined when the account is gone.
   * Typically `credentialEpoch(user.passwordHash)` (changes with every password change) for reset
   * and magic links, and the current email address for email verification.
   */
  currentEpoch: (accountId: string, purpose: OneTimePurpose) => Promise<string | undefined>;
  /** Lifetimes per purpose, merged over ONE_TIME_TOKEN_TTL_MS (1 minute to 30 days). Adds purposes too. */
  ttlMs?: Readonly<Record<string, number>>;
  clock?: Clock;
}

export interface IssueOneTimeToken {
  accountId: string;
  purpose: OneTimePurpose;
  /** Non-secret payload returned on consumption (e.g. the new address of an email change; ≤ 1024 chars). */
  data?: string;
  /** Revoke the account's earlier tokens of this purpose first (default true: one live link at a time). */
  replacePrevious?: boolean;
}

export type OneTimeDecision =
  | {
      readonly ok: true;
      readonly accountId: string;
      /** The epoch the token was bound to (still current): use it in a compare-and-set update. */
      readonly epoch: string;
      readonly data: string | undefined;
    }
  | {
      readonly ok: false;
      readonly code: "ERR_ONE_TIME_TOKEN_INVALID";
      /** For logs only: "unknown" covers never issued, already used and issued for another purpose. */
      readonly reason: "unknown" | "expired" | "stale";
    };

export interface OneTimeTokens {
  /** Issues a token; send `token` to the user (link), never store it. */
  issue(request: IssueOneTimeToken): Promise<{ token: string; expiresAtMs: number }>;
  /** Consumes a token for `purpose`: succeeds at most once, only before expiry and while the epoch holds. */
  consume(token: string, purpose: OneTimePurpose): Promise<OneTimeDecision>;
  /** Revokes an account's outstanding tokens (of one purpose or all), e.g. after a password change. */
  revokeAll(accountId: string, purpose?: OneTimePurpose): Promise<number>;
  /** Deletes expired tokens. */
  purgeExpired(): Promise<number>;
}

const UNKNOWN = Object.freeze({ ok: false, code: "ERR_ONE_TIME_TOKEN_INVALID", reason: "unknown" } as const);

/** Creates the one-time token service over a store. */
export function oneTimeTokens(options: OneTimeTokenOptions): OneTimeTokens {
  const where = "oneTimeTokens";
  const o = checkKeys(where, options, ["store", "currentEpoch", "ttlMs", "clock"]);
  const store = o.store as OneTimeTokenStore;
  if (store === null || typeof store !== "object" || typeof store.take !== "function") {
    throw configError(where, `"store" must be a OneTimeTokenStore (memoryAuthStore(), postgresAuthStore())`);
  }
  const currentEpoch = fn<OneTimeTokenOptions["currentEpoch"]>(
    where,
    "currentEpoch",
    o.currentEpoch,
    undefined,
  );
  if (currentEpoch === undefined) throw configError(where, `"currentEpoch" is required`);
  const ttls = new Map(Object.entries(ONE_TIME_TOKEN_TTL_MS));
  if (o.ttlMs !== undefined) {
    if (o.ttlMs === null || typeof o.ttlMs !== "object")
      throw configError(where, `"ttlMs" must be an object`);
    for (const [purpose, ms] of Object.entries(o.ttlMs as Record<string, unknown>)) {
      if (!/^[a-z][a-z0-9-]{0,62}$/.test(purpose)) {
        throw configError(where, `purpose "${purpose}" must be lower-case letters, digits and dashes`);
      }
      if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < MINUTE || ms > 30 * 24 * 60 * MINUTE) {
        throw configError(where, `"ttlMs.${purpose}" must be an integer from 60000 (1 min) to 30 days`);
      }
      ttls.set(purpose, ms);
    }
  }
  const clock = (o.clock as Clock | undefined) ?? systemClock;

  function ttlOf(purpose: unknown): number {
    const ttl = typeof purpose === "string" ? ttls.get(purpose) : undefined;
    if (ttl === undefined) {
      throw configError(
        where,
        `unknown purpose; known: ${[...ttls.keys()].join(", ")} (add others with ttlMs)`,
      );
    }
    return ttl;
  }

  return {
    async issue({ accountId, purpose, data, replacePrevious = true }) {
      const ttl = ttlOf(purpose);
      if (typeof accountId !== "string" || accountId.length === 0 || accountId.length > 256) {
        throw configError(where, "accountId must be a non-empty string of at most 256 characters");
      }
      if (data !== undefined && (typeof data !== "string" || data.length > 1024)) {
        throw configError(where, `"data" must be a string of at most 1024 characters`);
      }
      const epoch = await currentEpoch(accountId, purpose);
      if (typeof epoch !== "string")
        throw configError(where, "currentEpoch returned no epoch for the account");
      if (replacePrevious) await store.revokeOneTimeTokens(accountId, purpose);
      const token = randomToken();
      const nowMs = clock.now();
      const expiresAtMs = nowMs + ttl;
      await store.insert({
        tokenHash: tokenDigest(token),
        purpose,
        accountId,
        epoch,
        data,
        createdAtMs: nowMs,
        expiresAtMs,
      });
      return { token, expiresAtMs };
    },

    async consume(token, purpose) {
      ttlOf(purpose);
      if (!isTokenShaped(token)) return UNKNOWN;
      const record = await store.take(tokenDigest(token), purpose);
      if (record === undefined) return UNKNOWN;
      if (record.expiresAtMs <= clock.now()) {
        return { ok: false, code: "ERR_ONE_TIME_TOKEN_INVALID", reason: "expired" };
      }
      const epoch = await currentEpoch(record.accountId, purpose);
      if (typeof epoch !== "string" || !timingSafeEqual(epoch, record.epoch)) {
        return { ok: false, code: "ERR_ONE_TIME_TOKEN_INVALID", reason: "stale" };
      }
      return { ok: true, accountId: record.accountId, epoch: record.epoch, data: record.data };
    },

    async revokeAll(accountId, purpose) {
      if (purpose !== undefined) ttlOf(purpose);
      return store.revokeOneTimeTokens(accountId, purpose);
    },

    async purgeExpired() {
      return store.purgeExpired(clock.now());
    },
  };
}
