import { createHash, randomBytes } from "node:crypto";

/**
 * Opaque secrets handed to clients (refresh tokens, one-time tokens): 256 bits from the OS CSPRNG,
 * base64url without padding (43 characters). Only their SHA-256 is ever stored, so a leaked table
 * cannot be replayed; lookups go by that digest, so timing reveals nothing about the secret itself.
 */

/** Bytes of entropy in every opaque token (256 bits). */
export const TOKEN_BYTES = 32;

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

/** A fresh 256-bit random token, base64url (43 characters). */
export function randomToken(): string {
  return randomBytes(TOKEN_BYTES).toString("base64url");
}

/** True when `value` has the shape of a token from `randomToken` (checked before any store lookup). */
export function isTokenShaped(value: unknown): value is string {
  return typeof value === "string" && TOKEN_RE.test(value);
}

/** SHA-256 of a token as lower-case hex: the only form a store ever sees. */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * A short, stable fingerprint of a credential (e.g. the stored password hash) for binding one-time
 * tokens to it: when the password changes, its hash changes (fresh salt), so the fingerprint changes
 * and every outstanding token bound to the old one fails. Not reversible; 128 bits, base64url.
 */
export function credentialEpoch(credential: string): string {
  return createHash("sha256").update(credential, "utf8").digest().subarray(0, 16).toString("base64url");
}
