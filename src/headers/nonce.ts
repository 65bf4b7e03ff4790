import { createHash, randomFillSync } from "node:crypto";

/**
 * CSP nonces: 128 random bits, base64. Random bytes are drawn from the OS in blocks of 256 nonces,
 * so the per-response cost is a slice and an encode, not a system call. Bytes are never reused.
 */
const NONCE_BYTES = 16;
const POOL_BYTES = NONCE_BYTES * 256;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/** A fresh 128-bit nonce, base64-encoded (24 characters). */
export function cspNonce(): string {
  if (offset >= POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const nonce = pool.toString("base64", offset, offset + NONCE_BYTES);
  pool.fill(0, offset, offset + NONCE_BYTES);
  offset += NONCE_BYTES;
  return nonce;
}

/**
 * The CSP hash source for an inline script or style, e.g. `'sha256-…'`; the content must match the
 * element's text exactly (whitespace included).
 */
export function cspHash(content: string, algorithm: "sha256" | "sha384" | "sha512" = "sha256"): string {
  return `'${algorithm}-${createHash(algorithm).update(content, "utf8").digest("base64")}'`;
}
