/**
 * RateLimit header fields per draft-ietf-httpapi-ratelimit-headers (the 2026 text, -11):
 *
 *   RateLimit-Policy: "burst";q=2;w=1, "money";q=10;w=60
 *   RateLimit: "burst";r=1;t=1, "money";r=9;t=120
 *
 * Both are Structured Field Lists (RFC 8941) of Items whose value is a String naming the policy.
 * Policy parameters: `q` quota (Integer), `w` window in whole seconds (Integer > 0, omitted when
 * the window is not a whole number of seconds: sub-second precision is not supported).
 * Service-limit parameters: `r` available quota (Integer ≥ 0), `t` effective window in seconds
 * (Integer ≥ 0): here the seconds until the limit is fully replenished, rounded up — within that
 * time the client can never use more than the quota the policy grants.
 */

/** Serialises an sf-string (RFC 8941 §4.1.6): quoted, with `\` and `"` escaped. */
export function sfString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) as number;
    if (code < 0x20 || code > 0x7e) throw new RangeError("sf-string accepts printable ASCII only");
    out += ch === '"' || ch === "\\" ? `\\${ch}` : ch;
  }
  return `${out}"`;
}

export interface PolicyLike {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
}

export interface ServiceLimitLike {
  readonly name: string;
  readonly remaining: number;
  readonly resetMs: number;
}

/** The `RateLimit-Policy` field value for these limits. */
export function formatRateLimitPolicy(limits: readonly PolicyLike[]): string {
  let out = "";
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i] as PolicyLike;
    if (i > 0) out += ", ";
    out += `${sfString(l.name)};q=${l.limit}`;
    if (l.windowMs % 1000 === 0) out += `;w=${l.windowMs / 1000}`;
  }
  return out;
}

/**
 * The `RateLimit` field value. `maxSeconds` caps every `t` (used on 429 so that no effective window
 * ends after `Retry-After`, as the draft asks).
 */
export function formatRateLimit(limits: readonly ServiceLimitLike[], maxSeconds?: number): string {
  let out = "";
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i] as ServiceLimitLike;
    let t = Math.ceil(l.resetMs / 1000);
    if (maxSeconds !== undefined && t > maxSeconds) t = maxSeconds;
    if (i > 0) out += ", ";
    out += `${sfString(l.name)};r=${Math.max(0, Math.floor(l.remaining))};t=${t}`;
  }
  return out;
}

/** `Retry-After` in whole seconds, at least 1 (RFC 9110 delay-seconds). */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}
