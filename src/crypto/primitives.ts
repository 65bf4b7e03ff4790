import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes as nodeRandomBytes,
} from "node:crypto";
import { copyBytes } from "./bytes.js";

/**
 * The one place bulwark touches a cipher. Synchronous `node:crypto` (OpenSSL): for field-sized values
 * it is several times faster than Web Crypto's promise round trip (see docs/crypto.md), and it keeps the
 * public API synchronous. Everything else in the capability calls these few functions.
 */

export const AES_KEY_BYTES = 32;
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

/** A key imported once for repeated use; opaque outside this file. */
export type SecretKeyHandle = KeyObject;

export function importSecretKey(bytes: Uint8Array): SecretKeyHandle {
  return createSecretKey(copyBytes(bytes));
}

export function randomBytes(length: number): Uint8Array {
  return copyBytes(nodeRandomBytes(length));
}

/** AES-256-GCM encryption; returns ciphertext ‖ 16-byte tag. */
export function aesGcmSeal(
  key: SecretKeyHandle,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const tag = cipher.getAuthTag();
  const out = new Uint8Array(head.byteLength + tail.byteLength + tag.byteLength);
  out.set(head, 0);
  out.set(tail, head.byteLength);
  out.set(tag, head.byteLength + tail.byteLength);
  return out;
}

/** AES-256-GCM decryption of ciphertext ‖ tag; undefined when authentication fails for any reason. */
export function aesGcmOpen(
  key: SecretKeyHandle,
  iv: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  if (iv.byteLength !== GCM_IV_BYTES || sealed.byteLength < GCM_TAG_BYTES) return undefined;
  const split = sealed.byteLength - GCM_TAG_BYTES;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(split));
    const head = decipher.update(sealed.subarray(0, split));
    const tail = decipher.final();
    const out = new Uint8Array(head.byteLength + tail.byteLength);
    out.set(head, 0);
    out.set(tail, head.byteLength);
    return out;
  } catch {
    return undefined;
  }
}

/** HMAC-SHA256. */
export function hmacSha256(key: SecretKeyHandle | Uint8Array, data: Uint8Array): Uint8Array {
  return copyBytes(createHmac("sha256", key).update(data).digest());
}

/** HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `info` to `lengthBytes`. */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  lengthBytes: number,
): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", ikm, salt, info, lengthBytes));
}
