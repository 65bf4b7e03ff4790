const encoder = new TextEncoder();

/**
 * Constant-time equality of two byte arrays or strings (strings compare as UTF-8).
 * Runs in time that depends only on the length of `expected`, never on where the inputs differ;
 * a length mismatch is folded into the result instead of returning early.
 */
export function timingSafeEqual(actual: Uint8Array | string, expected: Uint8Array | string): boolean {
  const a = typeof actual === "string" ? encoder.encode(actual) : actual;
  const b = typeof expected === "string" ? encoder.encode(expected) : expected;
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) {
    diff |= (a[i % (a.length || 1)] ?? 0) ^ (b[i] as number);
  }
  return diff === 0;
}
