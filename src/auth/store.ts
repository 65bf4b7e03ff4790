/**
 * Storage behind refresh-token sessions and one-time tokens. Stores only ever see SHA-256 digests
 * (lower-case hex) of tokens, never tokens. Every method is atomic on its own; times are passed in
 * (milliseconds since the epoch, from the service's clock) so every store answers the same.
 * Implementations: memory (tests, development), PostgreSQL and PGlite (`bulwark/postgres`).
 */

export interface CreateFamilyInput {
  /** Session id: a random UUID. */
  readonly familyId: string;
  readonly accountId: string;
  /** Digest of the family's first refresh token. */
  readonly tokenHash: string;
  readonly nowMs: number;
  /** When the first token stops working if unused (idle timeout). */
  readonly tokenExpiresAtMs: number;
  /** When the whole session ends whatever its use (absolute timeout). */
  readonly familyExpiresAtMs: number;
  readonly userAgent: string | undefined;
  readonly ip: string | undefined;
}

export interface RotateInput {
  /** Digest of the presented token. */
  readonly tokenHash: string;
  /** Digest of its successor, stored only when the rotation succeeds. */
  readonly newTokenHash: string;
  readonly nowMs: number;
  /** Successor lifetime if unused; capped at the family's absolute expiry. */
  readonly idleTimeoutMs: number;
  /**
   * A token rotated at most this long ago is answered "superseded" without revoking the family
   * (0: any second presentation is reuse and revokes the family).
   */
  readonly reuseGraceMs: number;
  readonly userAgent: string | undefined;
  readonly ip: string | undefined;
}

/**
 * What a rotation found. Exactly one of any number of concurrent rotations of one token gets
 * "rotated"; "reused" means this call revoked the family.
 */
export type RotateOutcome =
  | {
      readonly outcome: "rotated";
      readonly accountId: string;
      readonly familyId: string;
      readonly expiresAtMs: number;
    }
  | {
      readonly outcome: "reused" | "superseded" | "revoked";
      readonly accountId: string;
      readonly familyId: string;
    }
  | { readonly outcome: "expired" | "unknown" };

/** One active session (refresh-token family) as listed to its owner. */
export interface SessionRecord {
  readonly sessionId: string;
  readonly accountId: string;
  readonly createdAtMs: number;
  readonly lastUsedAtMs: number;
  /** When the current refresh token expires if unused. */
  readonly expiresAtMs: number;
  readonly userAgent: string | undefined;
  readonly ip: string | undefined;
}

export type RevokeReason = "logout" | "logout-everywhere" | "reuse" | "revoked";

export interface RefreshTokenStore {
  /** Short name for logs: "memory", "postgres". */
  readonly kind: string;
  /** Creates a family with its first token. */
  createFamily(input: CreateFamilyInput): Promise<void>;
  /**
   * Atomically replaces a live token by its successor, or classifies why it cannot: unknown,
   * expired, family revoked, already rotated (→ revokes the family unless within the grace).
   */
  rotate(input: RotateInput): Promise<RotateOutcome>;
  /** Revokes the family a token (current or old) belongs to; undefined when unknown or already revoked. */
  revokeByToken(
    tokenHash: string,
    nowMs: number,
    reason: RevokeReason,
  ): Promise<{ accountId: string; familyId: string } | undefined>;
  /** Revokes one family of an account; false when not found, not the account's, or already revoked. */
  revokeFamily(accountId: string, familyId: string, nowMs: number, reason: RevokeReason): Promise<boolean>;
  /** Revokes every live family of an account; resolves to how many. */
  revokeAccount(accountId: string, nowMs: number, reason: RevokeReason): Promise<number>;
  /** Live families (not revoked, not expired, with a live current token), most recently used first. */
  listFamilies(accountId: string, nowMs: number): Promise<SessionRecord[]>;
  /**
   * Deletes families revoked or expired more than `retainMs` ago (with their tokens) and rotated
   * tokens that expired more than `retainMs` ago. Resolves to the number of rows deleted.
   */
  purge(nowMs: number, retainMs: number): Promise<number>;
}

export interface OneTimeTokenRecord {
  readonly tokenHash: string;
  readonly purpose: string;
  readonly accountId: string;
  /** The credential epoch the token was bound to at issue. */
  readonly epoch: string;
  /** Optional non-secret payload (e.g. the new email address of an email change). */
  readonly data: string | undefined;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
}

export interface OneTimeTokenStore {
  readonly kind: string;
  insert(record: OneTimeTokenRecord): Promise<void>;
  /**
   * Atomically deletes and returns the token with this digest and purpose; undefined when there is
   * none (unknown, already used, or issued for another purpose — which stays usable for its own).
   * Of any number of concurrent calls for one token, at most one gets the record.
   */
  take(tokenHash: string, purpose: string): Promise<OneTimeTokenRecord | undefined>;
  /** Deletes an account's one-time tokens (of one purpose, or all); resolves to how many. */
  revokeOneTimeTokens(accountId: string, purpose: string | undefined): Promise<number>;
  /** Deletes expired tokens; resolves to how many. */
  purgeExpired(nowMs: number): Promise<number>;
}

/** A store holding both kinds, as `memoryAuthStore()` and `postgresAuthStore()` do. */
export interface AuthStore extends RefreshTokenStore, OneTimeTokenStore {}
