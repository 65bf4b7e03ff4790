/**
 * Reads an `Idempotency-Key` field value. draft-ietf-httpapi-idempotency-key-header-07 §2.1 makes it
 * an RFC 8941 Item whose value is a String (`"8e03978e-40d5-43e8-bc93-6894a57f9324"`); many clients
 * (Stripe's among them) send the bare value instead, so a bare value made of token-safe characters
 * is accepted too. Parameters, lists and anything else are refused.
 */

/** Longest key accepted, in characters. */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

const BARE_RE = /^[A-Za-z0-9\-._~:+/=]+$/;

function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 32 || value.charCodeAt(start) === 9)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--;
  return value.slice(start, end);
}

/** The key, or undefined when `value` is not one sf-string (or bare token-safe value) of 1–255 characters. */
export function parseIdempotencyKey(value: string): string | undefined {
  const text = trimOws(value);
  if (text.length === 0) return undefined;
  if (text.charCodeAt(0) !== 34 /* " */) {
    return text.length <= IDEMPOTENCY_KEY_MAX_LENGTH && BARE_RE.test(text) ? text : undefined;
  }
  let key = "";
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) {
      const next = text.charCodeAt(++i);
      if (next !== 34 && next !== 92) return undefined;
      key += text[i];
    } else if (c === 34) {
      if (i !== text.length - 1) return undefined;
      return key.length > 0 && key.length <= IDEMPOTENCY_KEY_MAX_LENGTH ? key : undefined;
    } else if (c < 0x20 || c > 0x7e) {
      return undefined;
    } else {
      key += text[i];
    }
  }
  return undefined;
}
