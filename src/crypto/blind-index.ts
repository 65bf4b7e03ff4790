import { BulwarkError } from "../core/errors.js";
import { checkKeys, describe, fn, integer } from "../core/options.js";
import { toBase64url, utf8 } from "./bytes.js";
import { importKey, type KeyInput } from "./key.js";
import { hmacSha256, importSecretKey } from "./primitives.js";

const WHERE = "blindIndex";

export interface BlindIndexOptions {
  /**
   * 32 bytes of its own, never the encryption key (derive one with
   * `deriveKey(master, { purpose: "blind-index:users.ssn" })`). All-zero keys are refused.
   */
  key: KeyInput;
  /**
   * Maps equivalent inputs to one form before hashing, e.g. `(ssn) => ssn.replace(/\D/g, "")`.
   * Default: Unicode NFC, so visually equal strings index alike.
   */
  normalize?: (value: string) => string;
  /**
   * Bytes of the HMAC kept (8–32). Default 32. Shorter indexes collide on purpose, which hides more
   * about equal values but makes a lookup return a few candidate rows to decrypt and compare.
   */
  outputBytes?: number;
}

/** Computes the lookup token of a value: base64url(HMAC-SHA256(key, normalize(value))). */
export type BlindIndex = (value: string) => string;

const nfc = (value: string) => value.normalize("NFC");

/**
 * A blind index finds a row by an encrypted value without decrypting every row: store
 * `index(ssn)` in its own column next to the ciphertext and query `WHERE ssn_index = $1`.
 * It is deterministic by design, so it reveals which rows share a value — index only what you must.
 */
export function blindIndex(options: BlindIndexOptions): BlindIndex {
  const opts = checkKeys(WHERE, options, ["key", "normalize", "outputBytes"]);
  const key = importSecretKey(importKey(WHERE, "key", opts.key));
  const normalize = fn<(value: string) => string>(WHERE, "normalize", opts.normalize, nfc)!;
  const outputBytes = integer(WHERE, "outputBytes", opts.outputBytes, 32, { min: 8, max: 32 });
  return (value: string): string => {
    if (typeof value !== "string") {
      throw new BulwarkError(
        "ERR_CRYPTO_INVALID_INPUT",
        `blind index input must be a string, got ${describe(value)}`,
      );
    }
    const normalized = normalize(value);
    if (typeof normalized !== "string") {
      throw new BulwarkError(
        "ERR_CRYPTO_INVALID_INPUT",
        `blindIndex "normalize" must return a string, got ${describe(normalized)}`,
      );
    }
    return toBase64url(hmacSha256(key, utf8(normalized)).subarray(0, outputBytes));
  };
}
