import { createHmac } from "node:crypto";
import { timingSafeEqual } from "../core/compare.js";
import { fillRandom } from "./random.js";

/**
 * The anonymous CSRF session: when the application does not name a session, tokens are bound to a
 * random id kept in a signed, HttpOnly `__Host-` cookie. The cookie is `id.mac` with
 * `mac = HMAC-SHA256(key, "anon:" + id)` truncated to 128 bits, so a cookie an attacker plants
 * (cookie tossing from a sibling subdomain is already ruled out by `__Host-`) cannot name a session
 * the server did not create.
 */

const ID_BYTES = 18;
const MAC_BYTES = 16;
const ID_LENGTH = 24; // base64url of 18 bytes
const MAC_LENGTH = 22; // base64url of 16 bytes, unpadded
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function sessionMac(key: Uint8Array, id: string): string {
  return createHmac("sha256", key).update(`anon:${id}`).digest().subarray(0, MAC_BYTES).toString("base64url");
}

/** A fresh random session id (144 bits, base64url). */
export function newSessionId(): string {
  const id = new Uint8Array(ID_BYTES);
  fillRandom(id);
  return Buffer.from(id.buffer).toString("base64url");
}

/** The cookie value for `id`, signed with the first key. */
export function signSessionId(keys: readonly Uint8Array[], id: string): string {
  return `${id}.${sessionMac(keys[0] as Uint8Array, id)}`;
}

/** The session id in a cookie value when any key signed it; `undefined` otherwise. */
export function readSessionId(keys: readonly Uint8Array[], value: string): string | undefined {
  if (value.length !== ID_LENGTH + 1 + MAC_LENGTH || value[ID_LENGTH] !== ".") return undefined;
  const id = value.slice(0, ID_LENGTH);
  const given = value.slice(ID_LENGTH + 1);
  if (!BASE64URL.test(id) || !BASE64URL.test(given)) return undefined;
  let valid = false;
  for (const key of keys) valid = timingSafeEqual(given, sessionMac(key, id)) || valid;
  return valid ? id : undefined;
}

/** The first cookie called `name` in a `Cookie` header, undecoded; `undefined` when absent. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(";", start);
    if (end === -1) end = header.length;
    const eq = header.indexOf("=", start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      return header.slice(eq + 1, end).trim();
    }
    start = end + 1;
  }
  return undefined;
}

export interface CookieAttributes {
  readonly secure: boolean;
  readonly sameSite: "Lax" | "Strict" | "None";
  readonly maxAgeSeconds: number | undefined;
}

/** `name=value; Path=/; HttpOnly; SameSite=…[; Secure][; Max-Age=…]`, never with a Domain. */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
  let cookie = `${name}=${value}; Path=/; HttpOnly; SameSite=${attributes.sameSite}`;
  if (attributes.secure) cookie += "; Secure";
  if (attributes.maxAgeSeconds !== undefined) cookie += `; Max-Age=${attributes.maxAgeSeconds}`;
  return cookie;
}
