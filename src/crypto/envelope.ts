import { fromBase64url, toBase64url, utf8 } from "./bytes.js";
import { GCM_IV_BYTES, GCM_TAG_BYTES } from "./primitives.js";

/**
 * The stored form of an encrypted value:
 *
 *     bw1.<key id>.<iv>.<ciphertext ‖ tag>
 *
 * `bw1` names the format version (AES-256-GCM, 96-bit random IV, 128-bit tag); the key id says which
 * key of the keyring sealed it; IV and ciphertext ‖ tag are unpadded base64url. Every character is
 * URL-, JSON- and SQL-literal-safe. The header `bw1.<key id>.` is authenticated together with the
 * caller's AAD, so neither the version nor the key id can be swapped.
 */

export const ENVELOPE_VERSION = "bw1";

/** Key ids appear in stored values: short, and only characters that need no escaping anywhere. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const ENVELOPE = /^bw1\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;

export interface Envelope {
  keyId: string;
  iv: Uint8Array;
  sealed: Uint8Array;
}

/** The prefix every value sealed under `keyId` starts with (used to find rows needing rotation). */
export function envelopePrefix(keyId: string): string {
  return `${ENVELOPE_VERSION}.${keyId}.`;
}

export function formatEnvelope(keyId: string, iv: Uint8Array, sealed: Uint8Array): string {
  return `${envelopePrefix(keyId)}${toBase64url(iv)}.${toBase64url(sealed)}`;
}

/** Parses a stored value; undefined for anything that is not a well-formed, canonical envelope. */
export function parseEnvelope(value: unknown): Envelope | undefined {
  if (typeof value !== "string") return undefined;
  const match = ENVELOPE.exec(value);
  if (!match) return undefined;
  const iv = fromBase64url(match[2]!);
  const sealed = fromBase64url(match[3]!);
  if (!iv || !sealed || iv.byteLength !== GCM_IV_BYTES || sealed.byteLength < GCM_TAG_BYTES) return undefined;
  return { keyId: match[1]!, iv, sealed };
}

/** The bytes authenticated alongside the ciphertext: the envelope header, then the caller's AAD. */
export function headerBytes(keyId: string): Uint8Array {
  return utf8(envelopePrefix(keyId));
}
