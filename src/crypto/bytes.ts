import { Buffer } from "node:buffer";

/**
 * Byte helpers for the crypto capability. Public types use `Uint8Array`; `Buffer` stays inside.
 * Decoders are strict: a string that is not the canonical encoding of some bytes is refused, so two
 * different strings never decode to the same bytes (a flipped padding bit cannot go unnoticed).
 */

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

export function utf8(value: string): Uint8Array {
  return encoder.encode(value);
}

/** Decodes UTF-8, or returns undefined when the bytes are not valid UTF-8. */
export function fromUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A fresh `Uint8Array` (not a Buffer) holding a copy of `bytes`. */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

export function toBase64url(bytes: Uint8Array): string {
  return view(bytes).toString("base64url");
}

const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * Strict base64url (no padding) decode; undefined unless `text` is the canonical encoding: only the
 * alphabet, no impossible length, and no stray bits in the last character.
 */
export function fromBase64url(text: string): Uint8Array | undefined {
  const tail = text.length % 4;
  if (tail === 1 || !BASE64URL.test(text)) return undefined;
  if (tail !== 0) {
    const last = BASE64URL_ALPHABET.indexOf(text[text.length - 1]!);
    if ((last & (tail === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  }
  const bytes = Buffer.from(text, "base64url");
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Strict standard base64 (padding optional) decode; undefined unless canonical. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  const canonical = bytes.toString("base64");
  if (canonical !== text && canonical.replace(/=+$/, "") !== text) return undefined;
  return copyBytes(bytes);
}

export function toHex(bytes: Uint8Array): string {
  return view(bytes).toString("hex");
}

/** Strict hex decode; undefined unless `text` is an even number of hex digits. */
export function fromHex(text: string): Uint8Array | undefined {
  if (!HEX.test(text)) return undefined;
  return copyBytes(Buffer.from(text, "hex"));
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
