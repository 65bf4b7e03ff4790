import { checkKeys, configError, describe, integer } from "../core/options.js";
import { utf8 } from "./bytes.js";
import { importKey, type KeyInput } from "./key.js";
import { hkdfSha256 } from "./primitives.js";

const WHERE = "deriveKey";

export interface DeriveKeyOptions {
  /**
   * What the derived key is for, e.g. `"field-encryption"` or `"blind-index:users.ssn"`. Different
   * purposes give independent keys; the same purpose always gives the same key. Required, non-empty.
   */
  purpose: string;
  /** Optional HKDF salt (e.g. a per-deployment constant). Default: none (RFC 5869 zero salt). */
  salt?: string | Uint8Array;
  /** Length of the derived key in bytes (16–64). Default 32, an AES-256 / HMAC-SHA256 key. */
  lengthBytes?: number;
}

/**
 * Derives a per-purpose key from one 32-byte master key with HKDF-SHA256 (RFC 5869), so one secret
 * in the environment yields separate keys for encryption and each blind index.
 */
export function deriveKey(masterKey: KeyInput, options: DeriveKeyOptions): Uint8Array {
  const master = importKey(WHERE, "masterKey", masterKey);
  const opts = checkKeys(WHERE, options, ["purpose", "salt", "lengthBytes"]);
  if (typeof opts.purpose !== "string" || opts.purpose.length === 0) {
    throw configError(WHERE, `"purpose" must be a non-empty string, got ${describe(opts.purpose)}`);
  }
  const salt = opts.salt;
  if (salt !== undefined && typeof salt !== "string" && !(salt instanceof Uint8Array)) {
    throw configError(WHERE, `"salt" must be a string or Uint8Array, got ${describe(salt)}`);
  }
  const lengthBytes = integer(WHERE, "lengthBytes", opts.lengthBytes, 32, { min: 16, max: 64 });
  const saltBytes = salt === undefined ? new Uint8Array(0) : typeof salt === "string" ? utf8(salt) : salt;
  return hkdfSha256(master, saltBytes, utf8(opts.purpose), lengthBytes);
}
