import { createHmac } from "node:crypto";
import { timingSafeEqual } from "../core/compare.js";
import { fillRandom } from "./random.js";

/**
 * Session-bound CSRF tokens.
 *
 * A raw token is `version(1) | issuedAtSeconds(4, big-endian) | random(16) | mac(32)` where
 * `mac = HMAC-SHA256(key, version | issuedAt | random | binding)` and `binding` names the session the
 * token belongs to. Only the first key signs; every key verifies, so secrets rotate without logging
 * anyone out. What leaves the server is the raw token masked with a fresh one-time pad,
 * `pad(53) | raw XOR pad`, base64url-encoded: the same token never appears as the same bytes twice,
 * which defeats compression oracles (BREACH) on pages that embed it.
 */

const VERSION = 1;
const HEAD_BYTES = 1 + 4 + 16;
const MAC_BYTES = 32;
const RAW_BYTES = HEAD_BYTES + MAC_BYTES;
const MASKED_BYTES = RAW_BYTES * 2;
/** Length of an encoded token: base64url of 106 bytes without padding. */
export const TOKEN_LENGTH = Math.ceil((MASKED_BYTES * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** 106 bytes leave 4 unused bits in the last character; they must be zero (one spelling per token). */
const canonicalTail = (token: string): boolean =>
  (ALPHABET.indexOf(token[token.length - 1] as string) & 15) === 0;
/** How far in the future an issue time may lie (clock skew between servers), in milliseconds. */
const FUTURE_SKEW_MS = 60_000;

/** Derives one purpose-bound key per secret: `HMAC-SHA256(secret, label)`. Order is kept. */
export function deriveKeys(secrets: readonly Uint8Array[], label: string): readonly Uint8Array[] {
  return secrets.map((secret) => new Uint8Array(createHmac("sha256", secret).update(label).digest()));
}

/** `HMAC-SHA256(key, head | UTF-8(binding))` (a lone surrogate encodes as U+FFFD, as TextEncoder does). */
function mac(key: Uint8Array, head: Uint8Array, binding: string): Uint8Array {
  return createHmac("sha256", key).update(head).update(binding, "utf8").digest();
}

/** Scratch for `verifyToken`, which runs synchronously: the decoded token and the unmasked one. */
const maskedScratch = Buffer.alloc(MASKED_BYTES);
const rawScratch = new Uint8Array(RAW_BYTES);
const rawHead = rawScratch.subarray(0, HEAD_BYTES);
const rawMac = rawScratch.subarray(HEAD_BYTES);

function encode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/** Issues a masked token bound to `binding`, signed with the first key, stamped with `nowMs`. */
export function issueToken(keys: readonly Uint8Array[], binding: string, nowMs: number): string {
  const out = new Uint8Array(MASKED_BYTES);
  const pad = out.subarray(0, RAW_BYTES);
  const raw = out.subarray(RAW_BYTES);
  fillRandom(pad);
  raw[0] = VERSION;
  new DataView(raw.buffer, raw.byteOffset).setUint32(1, Math.floor(nowMs / 1000) >>> 0);
  fillRandom(raw.subarray(5, HEAD_BYTES));
  raw.set(mac(keys[0] as Uint8Array, raw.subarray(0, HEAD_BYTES), binding), HEAD_BYTES);
  for (let i = 0; i < RAW_BYTES; i++) raw[i] = (raw[i] as number) ^ (pad[i] as number);
  return encode(out);
}

/** Why a token was refused; clients only ever see `ERR_CSRF_TOKEN_INVALID`, logs see the reason. */
export type TokenRejection = "malformed" | "signature" | "expired" | "future";

export type TokenCheck = { readonly ok: true } | { readonly ok: false; readonly reason: TokenRejection };

const OK: TokenCheck = Object.freeze({ ok: true });
const rejected = (reason: TokenRejection): TokenCheck => ({ ok: false, reason });

/**
 * Verifies a masked token for `binding`: well-formed, signed by any of `keys` (compared in constant
 * time), issued no more than `maxAgeMs` before `nowMs` and not in the future beyond clock skew.
 */
export function verifyToken(
  keys: readonly Uint8Array[],
  binding: string,
  token: string,
  nowMs: number,
  maxAgeMs: number,
): TokenCheck {
  if (token.length !== TOKEN_LENGTH || !BASE64URL.test(token) || !canonicalTail(token)) {
    return rejected("malformed");
  }
  const masked = maskedScratch;
  if (masked.write(token, "base64url") !== MASKED_BYTES) return rejected("malformed");
  const raw = rawScratch;
  for (let i = 0; i < RAW_BYTES; i++) raw[i] = (masked[i] as number) ^ (masked[RAW_BYTES + i] as number);
  if (raw[0] !== VERSION) return rejected("malformed");
  let valid = false;
  for (const key of keys) valid = timingSafeEqual(rawMac, mac(key, rawHead, binding)) || valid;
  if (!valid) return rejected("signature");
  const issuedSeconds =
    (raw[1] as number) * 16_777_216 +
    (raw[2] as number) * 65_536 +
    (raw[3] as number) * 256 +
    (raw[4] as number);
  const issuedMs = issuedSeconds * 1000;
  if (issuedMs - nowMs > FUTURE_SKEW_MS) return rejected("future");
  if (nowMs - issuedMs > maxAgeMs) return rejected("expired");
  return OK;
}
