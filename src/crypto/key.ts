import { configError, describe } from "../core/options.js";
import { copyBytes, fromBase64, fromBase64url, fromHex, toBase64url } from "./bytes.js";
import { AES_KEY_BYTES, randomBytes } from "./primitives.js";

/**
 * Key material as bulwark accepts it: raw bytes, or a string holding exactly 32 bytes as 64 hex digits,
 * base64url (43 characters, no padding) or standard base64 (44 characters with padding).
 */
export type KeyInput = Uint8Array | string;

export type KeyDecodeResult =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; reason: "encoding" | "length" | "weak"; lengthBytes?: number };

/** Decodes a string in hex, base64url or base64; undefined when it is none of them. */
function decodeKeyString(text: string): Uint8Array | undefined {
  if (/^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 && text.length !== 44) return fromHex(text);
  return fromBase64url(text) ?? fromBase64(text);
}

/** True when every byte is the same (all-zero keys included): a placeholder, never a real key. */
function isDegenerate(bytes: Uint8Array): boolean {
  for (let i = 1; i < bytes.byteLength; i++) if (bytes[i] !== bytes[0]) return false;
  return true;
}

/**
 * Checks key material without throwing: exactly `lengthBytes` bytes (default 32) and not a single
 * repeated byte such as all zeros. Used by `keyring`, `blindIndex`, `deriveKey` and the config rules.
 */
export function decodeKey(input: unknown, lengthBytes = AES_KEY_BYTES): KeyDecodeResult {
  let bytes: Uint8Array | undefined;
  if (input instanceof Uint8Array) bytes = input;
  else if (typeof input === "string") bytes = decodeKeyString(input.trim());
  if (bytes === undefined) return { ok: false, reason: "encoding" };
  if (bytes.byteLength !== lengthBytes) return { ok: false, reason: "length", lengthBytes: bytes.byteLength };
  if (isDegenerate(bytes)) return { ok: false, reason: "weak" };
  return { ok: true, bytes: copyBytes(bytes) };
}

/** Decodes and validates key material; throws ERR_CONFIG_INVALID (never showing the key) otherwise. */
export function importKey(
  where: string,
  name: string,
  input: unknown,
  lengthBytes = AES_KEY_BYTES,
): Uint8Array {
  const result = decodeKey(input, lengthBytes);
  if (result.ok) return result.bytes;
  if (result.reason === "encoding") {
    throw configError(
      where,
      `"${name}" must be ${lengthBytes} bytes as a Uint8Array, 64 hex digits or base64url; got ${
        typeof input === "string"
          ? `a string of ${input.length} characters in no such encoding`
          : describe(input)
      }`,
    );
  }
  if (result.reason === "length") {
    throw configError(
      where,
      `"${name}" must be exactly ${lengthBytes} bytes, got ${result.lengthBytes} bytes`,
    );
  }
  throw configError(
    where,
    `"${name}" is all zeros or one repeated byte; generate a real key with generateKey()`,
  );
}

/** A fresh random 256-bit key as base64url, e.g. for `ENCRYPTION_KEY` in an env file. */
export function generateKey(): string {
  return toBase64url(randomBytes(AES_KEY_BYTES));
}
