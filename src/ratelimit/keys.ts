import { createHash } from "node:crypto";

/** Keys longer than this many UTF-8 bytes are replaced by their SHA-256 (base64url). */
export const MAX_KEY_BYTES = 256;

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * A key as stores receive it: itself when it fits in 256 UTF-8 bytes, otherwise the base64url
 * SHA-256 of its UTF-8 bytes (43 characters), so a client-chosen value can never blow up memory
 * or store keys. Returns undefined for anything but a non-empty, well-formed string (a lone
 * surrogate would become U+FFFD in UTF-8, making distinct keys collide in Redis or Postgres).
 */
export function normalizeKey(key: unknown): string | undefined {
  if (typeof key !== "string" || key.length === 0 || !isWellFormed(key)) return undefined;
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short strings need no byte count.
  if (key.length * 3 <= MAX_KEY_BYTES) return key;
  if (Buffer.byteLength(key, "utf8") <= MAX_KEY_BYTES) return key;
  return createHash("sha256").update(key, "utf8").digest("base64url");
}
