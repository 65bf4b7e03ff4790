import { configError } from "./options.js";
import type { RequestView } from "./request.js";

/**
 * IP parsing, CIDR matching and client-IP resolution behind proxies.
 *
 * No proxy is trusted by default: the client is the TCP peer, and `X-Forwarded-For` / `Forwarded`
 * are ignored (and reported, so a misconfigured deployment is noticed). With `trustProxy` set, the
 * forwarding header is read right to left, skipping trusted hops, and the first untrusted address
 * is the client — so an address a client wrote into the header itself is never believed.
 */

/** A parsed address. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is normalised to IPv4. */
export interface ParsedIp {
  readonly version: 4 | 6;
  /** 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
}

function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (p.length === 0 || p.length > 3 || !/^\d+$/.test(p) || (p.length > 1 && p[0] === "0"))
      return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(s: string): Uint8Array | undefined {
  const zone = s.indexOf("%");
  if (zone !== -1) s = s.slice(0, zone);
  if (s.length < 2 || s.length > 45) return undefined;
  let tail: Uint8Array | undefined;
  const lastColon = s.lastIndexOf(":");
  if (s.indexOf(".", lastColon) !== -1) {
    tail = parseIpv4(s.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : (halves[0] as string).split(":");
  const rest = halves.length === 2 ? (halves[1] === "" ? [] : (halves[1] as string).split(":")) : [];
  const groups = head.length + rest.length;
  if (halves.length === 1 ? groups !== 8 : groups > 7) return undefined;
  const words = [...head, ...new Array<string>(8 - groups).fill("0"), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const w = words[i] as string;
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return undefined;
    const n = Number.parseInt(w, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Parses an IPv4 or IPv6 address (brackets and zone ids accepted); undefined when invalid. */
export function parseIp(input: string): ParsedIp | undefined {
  let s = input.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (s.includes(":")) {
    const bytes = parseIpv6(s);
    if (bytes === undefined) return undefined;
    if (MAPPED_PREFIX.every((b, i) => bytes[i] === b)) return { version: 4, bytes: bytes.slice(12) };
    return { version: 6, bytes };
  }
  const bytes = parseIpv4(s);
  return bytes === undefined ? undefined : { version: 4, bytes };
}

/** Canonical text of an address: dotted IPv4, RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIp(ip: ParsedIp): string {
  const b = ip.bytes;
  if (ip.version === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] as number) << 8) | (b[i + 1] as number));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** Normalises an address to its canonical text; undefined when invalid. */
export function normalizeIp(input: string): string | undefined {
  const parsed = parseIp(input);
  return parsed === undefined ? undefined : formatIp(parsed);
}

interface Cidr {
  readonly version: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** Named ranges, as in Express's `trust proxy`. */
const ALIASES: Record<string, readonly string[]> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};

function parseCidr(where: string, text: string): Cidr[] {
  const alias = ALIASES[text];
  if (alias) return alias.flatMap((t) => parseCidr(where, t));
  const slash = text.indexOf("/");
  const ip = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (ip === undefined) throw configError(where, `"${text}" is not an IP address, CIDR range or alias`);
  const max = ip.version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) throw configError(where, `"${text}" has an invalid prefix length`);
    prefix = Number(p);
    // An IPv4-mapped IPv6 range is expressed over 128 bits; bring it to IPv4's 32.
    if (ip.version === 4 && text.slice(0, slash).includes(":")) prefix -= 96;
    if (prefix < 0 || prefix > max) throw configError(where, `"${text}" has an invalid prefix length`);
  }
  return [{ version: ip.version, bytes: mask(ip.bytes, prefix), prefix }];
}

function mask(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = (bytes[i] as number) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function contains(range: Cidr, ip: ParsedIp): boolean {
  if (range.version !== ip.version) return false;
  const full = range.prefix >> 3;
  for (let i = 0; i < full; i++) if (range.bytes[i] !== ip.bytes[i]) return false;
  const rem = range.prefix & 7;
  if (rem === 0) return true;
  const m = (0xff << (8 - rem)) & 0xff;
  return ((ip.bytes[full] as number) & m) === range.bytes[full];
}

/**
 * Compiles a list of addresses, CIDR ranges and aliases (`loopback`, `linklocal`, `uniquelocal`)
 * into a matcher. Invalid entries throw `ERR_CONFIG_INVALID` here, never at match time.
 */
export function cidrMatcher(
  list: readonly string[],
  where = "cidrMatcher",
): (ip: string | ParsedIp) => boolean {
  const ranges = list.flatMap((t) => parseCidr(where, t));
  return (ip) => {
    const parsed = typeof ip === "string" ? parseIp(ip) : ip;
    if (parsed === undefined) return false;
    for (const r of ranges) if (contains(r, parsed)) return true;
    return false;
  };
}

/**
 * True when a trusted range is so broad that it covers a large part of the public internet
 * (an IPv4 prefix shorter than /8, or an IPv6 prefix shorter than /16 reaching into global unicast
 * space): trusting it lets any client
 * choose its own address.
 */
export function trustCoversInternet(list: readonly string[]): boolean {
  return list
    .flatMap((t) => parseCidr("trustProxy", t))
    .some((r) =>
      r.version === 4
        ? r.prefix < 8
        : // shorter than /16 and overlapping the global unicast space 2000::/3
          r.prefix < 16 && (r.prefix < 3 || ((r.bytes[0] as number) & 0xe0) === 0x20),
    );
}

export interface ClientIpOptions {
  /**
   * Which proxies to believe. `false` (default): none — the client is the TCP peer. A number: that
   * many hops in front of this server are proxies (1 = one load balancer). A list: proxies are the
   * peers whose addresses match these addresses / CIDR ranges / aliases.
   */
  trustProxy?: false | number | readonly string[];
  /** Which header the trusted proxies write. Default `"x-forwarded-for"`; `"forwarded"` is RFC 7239. */
  forwardedHeader?: "x-forwarded-for" | "forwarded";
  /** IPv6 clients are keyed by this prefix (they usually own a whole /64). Default 64; 48–128. */
  ipv6Subnet?: number;
}

export interface ClientIp {
  /** The client's address, canonical text ("unknown" when the peer address is unavailable). */
  readonly ip: string;
  /** The key to rate-limit by: the IPv4 address, or the IPv6 address masked to `ipv6Subnet` with a suffix. */
  readonly key: string;
  /** True when a forwarding header arrived but no proxy is trusted (it was ignored). */
  readonly forwardedHeaderIgnored: boolean;
}

const UNKNOWN: ClientIp = Object.freeze({ ip: "unknown", key: "unknown", forwardedHeaderIgnored: false });

/** Parses the `for=` values of an RFC 7239 `Forwarded` header, in order (left to right). */
export function parseForwardedFor(value: string): string[] {
  const out: string[] = [];
  for (const element of value.split(",")) {
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq === -1) continue;
      if (pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
      let v = pair.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
      out.push(stripPort(v));
    }
  }
  return out;
}

/** Removes a port from `1.2.3.4:80` or `[::1]:80`; leaves a bare IPv6 address alone. */
function stripPort(v: string): string {
  if (v.startsWith("[")) {
    const end = v.indexOf("]");
    return end === -1 ? v : v.slice(1, end);
  }
  const colon = v.indexOf(":");
  if (colon !== -1 && colon === v.lastIndexOf(":")) return v.slice(0, colon);
  return v;
}

/**
 * Creates the client-IP resolver. Options are validated here (`ERR_CONFIG_INVALID`); the returned
 * function does a few string operations per request and caches IPv6 keys.
 */
export function clientIpResolver(options: ClientIpOptions = {}): (view: RequestView) => ClientIp {
  const where = "clientIpResolver";
  const trust = options.trustProxy ?? false;
  const subnet = options.ipv6Subnet ?? 64;
  if (!Number.isInteger(subnet) || subnet < 48 || subnet > 128) {
    throw configError(where, `"ipv6Subnet" must be an integer from 48 to 128, got ${String(subnet)}`);
  }
  const headerName = options.forwardedHeader ?? "x-forwarded-for";
  if (headerName !== "x-forwarded-for" && headerName !== "forwarded") {
    throw configError(where, `"forwardedHeader" must be "x-forwarded-for" or "forwarded"`);
  }
  let hops = 0;
  let isTrusted: ((ip: ParsedIp) => boolean) | undefined;
  if (typeof trust === "number") {
    if (!Number.isInteger(trust) || trust < 0)
      throw configError(where, `"trustProxy" hop count must be an integer ≥ 0`);
    hops = trust;
  } else if (Array.isArray(trust)) {
    isTrusted = cidrMatcher(trust, where);
  } else if (trust !== false) {
    throw configError(where, `"trustProxy" must be false, a hop count or a list of addresses/ranges`);
  }

  const keyCache = new Map<string, ClientIp>();
  const describe = (parsed: ParsedIp, ignored: boolean): ClientIp => {
    const ip = formatIp(parsed);
    if (parsed.version === 4 || subnet === 128) return { ip, key: ip, forwardedHeaderIgnored: ignored };
    return {
      ip,
      key: `${formatIp({ version: 6, bytes: mask(parsed.bytes, subnet) })}/${subnet}`,
      forwardedHeaderIgnored: ignored,
    };
  };
  const fromText = (text: string, ignored: boolean): ClientIp | undefined => {
    const cacheKey = ignored ? `!${text}` : text;
    const hit = keyCache.get(cacheKey);
    if (hit) return hit;
    const parsed = parseIp(text);
    if (parsed === undefined) return undefined;
    const result = describe(parsed, ignored);
    if (keyCache.size >= 10_000) keyCache.clear();
    keyCache.set(cacheKey, result);
    return result;
  };
  const forwarded = (view: RequestView): string[] | undefined => {
    const raw = view.header(headerName);
    if (raw === undefined || raw === "") return undefined;
    return headerName === "forwarded"
      ? parseForwardedFor(raw)
      : raw.split(",").map((s) => stripPort(s.trim()));
  };

  if (trust === false || hops === 0) {
    if (isTrusted === undefined) {
      return (view) => {
        const peer = view.remoteAddress;
        if (peer === undefined) return UNKNOWN;
        const ignored =
          view.header("x-forwarded-for") !== undefined || view.header("forwarded") !== undefined;
        return fromText(peer, ignored) ?? UNKNOWN;
      };
    }
  }

  return (view) => {
    const peer = view.remoteAddress;
    if (peer === undefined) return UNKNOWN;
    const chain = forwarded(view);
    // addresses from nearest to farthest: the TCP peer, then the header right to left
    let current = fromText(peer, false);
    if (current === undefined) return UNKNOWN;
    if (chain === undefined) return current;
    if (isTrusted === undefined) {
      // Hop count: the peer is hop 1; the client sits `hops` entries into the chain from the right.
      for (let i = 1; i <= hops; i++) {
        const text = chain[chain.length - i];
        if (text === undefined) break;
        const next = fromText(text, false);
        if (next === undefined) break;
        current = next;
      }
      return current;
    }
    let parsed = parseIp(current.ip) as ParsedIp;
    for (let i = chain.length - 1; i >= 0 && isTrusted(parsed); i--) {
      const next = fromText(chain[i] as string, false);
      if (next === undefined) break;
      current = next;
      parsed = parseIp(next.ip) as ParsedIp;
    }
    return current;
  };
}
