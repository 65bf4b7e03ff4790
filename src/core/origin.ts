/**
 * Serialized web origins (`scheme://host[:port]`), as browsers send them in the `Origin` header.
 * Used by every capability that compares origins (CSRF trusted origins, CORS allowlists), so they all
 * accept and refuse exactly the same spellings.
 */

/** The result of checking that a configured string is a canonical http(s) origin. */
export type OriginCheck = { ok: true; origin: string } | { ok: false; reason: string };

const SHAPE = /^(https?):\/\/([^/?#@\s]+)$/;
/** A DNS name (labels of letters, digits, `-`, `_`) or a bracketed IPv6 address, after URL canonicalization. */
const HOST =
  /^(?:\[[0-9a-f:.]+\]|[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*)$/;

/**
 * Checks that `value` is an http(s) origin written exactly as a browser serializes it: lower-case
 * scheme and host, no default port, no path (not even `/`), query, fragment or credentials.
 * A non-canonical spelling is refused with the canonical one as a hint, because `Origin` headers are
 * compared as exact strings and a near-miss would silently never match.
 */
export function checkOrigin(value: string): OriginCheck {
  if (value === "null") return { ok: false, reason: 'the "null" origin can be forged by any sandboxed page' };
  const shape = SHAPE.exec(value);
  if (shape === null) {
    return { ok: false, reason: "an origin is scheme://host[:port] with scheme http or https and no path" };
  }
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return { ok: false, reason: "the host is not a valid host name or address" };
  }
  if (!HOST.test(parsed.hostname))
    return { ok: false, reason: "the host is not a valid host name or address" };
  const canonical = `${parsed.protocol}//${parsed.host}`;
  if (canonical !== value) return { ok: false, reason: `write it as "${canonical}"` };
  return { ok: true, origin: canonical };
}

/**
 * The origin of a request as this server sees it: the connection's scheme and the `Host` header,
 * lower-cased, without the scheme's default port. `undefined` when there is no usable `Host`.
 */
export function requestOrigin(protocol: "http" | "https", host: string | undefined): string | undefined {
  if (host === undefined || host.length === 0) return undefined;
  let h = host.toLowerCase();
  if (protocol === "https" && h.endsWith(":443")) h = h.slice(0, -4);
  else if (protocol === "http" && h.endsWith(":80")) h = h.slice(0, -3);
  return `${protocol}://${h}`;
}
