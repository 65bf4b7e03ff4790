import { BulwarkError } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { boolean, checkKeys, configError, integer, oneOf, string } from "../core/options.js";
import type { RequestView } from "../core/request.js";

/**
 * Set-Cookie serialisation and Cookie parsing (RFC 6265bis) with the safe attributes on by default:
 * Secure, HttpOnly, SameSite=Strict, Path=/. Names starting with `__Host-` must be Secure, Path=/
 * and carry no Domain (the browser enforces it too; refusing here makes the mistake loud), and
 * `__Secure-` names must be Secure. Values are never encoded: they must already be cookie-octets
 * (base64url tokens are).
 */

export type SameSite = "Strict" | "Lax" | "None";

export interface CookieOptions {
  /** Lifetime in seconds (`Max-Age`); omitted → a session cookie. 0 deletes the cookie. */
  maxAgeSeconds?: number;
  /** `Path` (default "/"; `__Host-` cookies must use "/"). */
  path?: string;
  /** `Domain`; omitted (the default) keeps the cookie to this host. Not allowed on `__Host-` cookies. */
  domain?: string;
  /** `SameSite` (default "Strict"). "None" requires Secure. */
  sameSite?: SameSite;
  /** `Partitioned` (CHIPS), for cookies inside third-party iframes (default false). */
  partitioned?: boolean;
  /** Drops `Secure` (plain-http development only). Not allowed with `__Host-`/`__Secure-` names. */
  dangerouslyAllowInsecure?: boolean;
  /** Drops `HttpOnly`, so page scripts (and injected ones) can read the cookie. */
  dangerouslyAllowScriptAccess?: boolean;
}

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/; // RFC 9110 token
const OCTETS_RE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/; // RFC 6265 cookie-octet
const ATTRIBUTE_RE = /^[\x20-\x3A\x3C-\x7E]+$/; // printable, no ";"
const DOMAIN_RE =
  /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** Browsers ignore cookies whose name and value together exceed 4096 bytes. */
const MAX_COOKIE_BYTES = 4096;

function invalid(message: string): BulwarkError {
  return new BulwarkError("ERR_COOKIE_INVALID", message, { status: 500 });
}

interface Resolved {
  maxAgeSeconds: number | undefined;
  path: string;
  domain: string | undefined;
  sameSite: SameSite;
  partitioned: boolean;
  secure: boolean;
  httpOnly: boolean;
}

function resolve(name: string, options: CookieOptions, fail: (message: string) => Error): Resolved {
  if (typeof name !== "string" || !TOKEN_RE.test(name)) throw fail("cookie name must be an RFC 9110 token");
  const o = options ?? {};
  const known = [
    "maxAgeSeconds",
    "path",
    "domain",
    "sameSite",
    "partitioned",
    "dangerouslyAllowInsecure",
    "dangerouslyAllowScriptAccess",
  ];
  for (const key of Object.keys(o)) if (!known.includes(key)) throw fail(`unknown cookie option "${key}"`);
  const maxAgeSeconds = o.maxAgeSeconds;
  if (maxAgeSeconds !== undefined && (!Number.isSafeInteger(maxAgeSeconds) || maxAgeSeconds < 0)) {
    throw fail(`"maxAgeSeconds" must be a non-negative integer`);
  }
  const path = o.path ?? "/";
  if (typeof path !== "string" || !path.startsWith("/") || !ATTRIBUTE_RE.test(path)) {
    throw fail(`"path" must start with "/" and contain no ";" or control characters`);
  }
  const domain = o.domain;
  if (domain !== undefined && (typeof domain !== "string" || !DOMAIN_RE.test(domain))) {
    throw fail(`"domain" must be a host name`);
  }
  const sameSite = o.sameSite ?? "Strict";
  if (sameSite !== "Strict" && sameSite !== "Lax" && sameSite !== "None") {
    throw fail(`"sameSite" must be "Strict", "Lax" or "None"`);
  }
  const secure = o.dangerouslyAllowInsecure !== true;
  const httpOnly = o.dangerouslyAllowScriptAccess !== true;
  const lower = name.toLowerCase();
  if (lower.startsWith("__host-")) {
    if (!secure) throw fail(`a __Host- cookie must be Secure`);
    if (path !== "/") throw fail(`a __Host- cookie must have Path=/`);
    if (domain !== undefined) throw fail(`a __Host- cookie must not have a Domain`);
  } else if (lower.startsWith("__secure-") && !secure) {
    throw fail(`a __Secure- cookie must be Secure`);
  }
  if (sameSite === "None" && !secure) throw fail(`SameSite=None requires Secure`);
  return { maxAgeSeconds, path, domain, sameSite, partitioned: o.partitioned === true, secure, httpOnly };
}

function format(name: string, value: string, r: Resolved, fail: (message: string) => Error): string {
  if (typeof value !== "string" || !OCTETS_RE.test(value)) {
    throw fail(
      `cookie value must consist of RFC 6265 cookie-octets (no spaces, quotes, commas, ";" or "\\")`,
    );
  }
  if (name.length + value.length > MAX_COOKIE_BYTES) throw fail(`cookie name and value exceed 4096 bytes`);
  let out = `${name}=${value}`;
  if (r.maxAgeSeconds !== undefined) out += `; Max-Age=${r.maxAgeSeconds}`;
  if (r.domain !== undefined) out += `; Domain=${r.domain}`;
  out += `; Path=${r.path}`;
  if (r.secure) out += "; Secure";
  if (r.httpOnly) out += "; HttpOnly";
  out += `; SameSite=${r.sameSite}`;
  if (r.partitioned) out += "; Partitioned";
  return out;
}

/**
 * A `Set-Cookie` header value. Secure, HttpOnly, SameSite=Strict and Path=/ unless told otherwise;
 * throws ERR_COOKIE_INVALID for a bad name/value or a `__Host-`/`__Secure-` rule broken.
 */
export function serializeCookie(name: string, value: string, options: CookieOptions = {}): string {
  const fail = (message: string) => invalid(message);
  return format(name, value, resolve(name, options, fail), fail);
}

/** A `Set-Cookie` value that deletes the cookie (same attributes, empty value, Max-Age=0). */
export function clearCookie(name: string, options: Omit<CookieOptions, "maxAgeSeconds"> = {}): string {
  return serializeCookie(name, "", { ...options, maxAgeSeconds: 0 });
}

/** Longest Cookie header parsed; the rest is ignored (servers cap headers well below this anyway). */
const MAX_HEADER_CHARS = 16 * 1024;

/**
 * Parses a `Cookie` request header into a map. The first occurrence of a name wins (browsers send
 * the most specific path first); names map to raw values (surrounding double quotes removed).
 */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof header !== "string" || header.length === 0) return out;
  const text = header.length > MAX_HEADER_CHARS ? header.slice(0, MAX_HEADER_CHARS) : header;
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (name.length === 0 || out.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.set(name, value);
  }
  return out;
}

/** One cookie of a request, or undefined. */
export function readCookie(request: RequestView, name: string): string | undefined {
  return parseCookies(request.header("cookie")).get(name);
}

export interface SessionCookieOptions {
  /** Cookie name (default "__Host-session"). Keep the `__Host-` prefix unless you need a Domain. */
  name?: string;
  /** Lifetime in seconds (default: none, a browser-session cookie; set it to the refresh token's idle timeout). */
  maxAgeSeconds?: number;
  /** SameSite (default "Strict": the cookie never rides along cross-site requests). */
  sameSite?: SameSite;
  /** Path (default "/"; must be "/" for `__Host-` names). */
  path?: string;
  /** Domain (default none; not allowed for `__Host-` names). */
  domain?: string;
  /** Drops Secure for plain-http development; logs a warning once. Not allowed with `__Host-` names. */
  dangerouslyAllowInsecure?: boolean;
  logger?: Logger;
}

export interface SessionCookie {
  readonly name: string;
  /** `Set-Cookie` value carrying `value` (optionally with another lifetime). */
  serialize(value: string, maxAgeSeconds?: number): string;
  /** `Set-Cookie` value deleting the cookie. */
  clear(): string;
  /** The cookie's value in a request, if present. */
  read(request: RequestView): string | undefined;
}

/**
 * A cookie for a session secret (e.g. the refresh token): options validated once, HttpOnly always,
 * Secure and SameSite=Strict by default, `__Host-` prefix by default.
 */
export function sessionCookie(options: SessionCookieOptions = {}): SessionCookie {
  const where = "sessionCookie";
  const o = checkKeys(where, options, [
    "name",
    "maxAgeSeconds",
    "sameSite",
    "path",
    "domain",
    "dangerouslyAllowInsecure",
    "logger",
  ]);
  const name = string(where, "name", o.name, "__Host-session");
  const maxAgeSeconds =
    o.maxAgeSeconds === undefined
      ? undefined
      : integer(where, "maxAgeSeconds", o.maxAgeSeconds, undefined, { min: 1, max: 400 * 86_400 });
  const sameSite = oneOf(where, "sameSite", o.sameSite, ["Strict", "Lax", "None"] as const, "Strict");
  const insecure = boolean(where, "dangerouslyAllowInsecure", o.dangerouslyAllowInsecure, false);
  const fail = (message: string) => configError(where, message);
  const base: CookieOptions = {
    sameSite,
    ...(o.path === undefined ? {} : { path: o.path as string }),
    ...(o.domain === undefined ? {} : { domain: o.domain as string }),
    ...(insecure ? { dangerouslyAllowInsecure: true } : {}),
  };
  const resolved = resolve(name, { ...base, maxAgeSeconds }, fail);
  if (insecure) {
    ((o.logger as Logger | undefined) ?? consoleLogger).warn(
      { code: "ERR_CONFIG_INVALID", cookie: name },
      "sessionCookie: dangerouslyAllowInsecure is set; the cookie travels over plain http",
    );
  }
  const cleared = format(name, "", { ...resolved, maxAgeSeconds: 0 }, fail);
  return {
    name,
    serialize(value, lifetimeSeconds) {
      const r =
        lifetimeSeconds === undefined
          ? resolved
          : resolve(name, { ...base, maxAgeSeconds: lifetimeSeconds }, invalid);
      return format(name, value, r, invalid);
    },
    clear: () => cleared,
    read: (request) => readCookie(request, name),
  };
}
