import type * as NodeCrypto from "node:crypto";

/**
 * The one place webhooks and idempotency touch cryptographic primitives. On Node (and runtimes that
 * expose `process.getBuiltinModule("node:crypto")`) HMAC, SHA-256 and Ed25519 run synchronously
 * through node:crypto, which is several times faster per call than awaiting Web Crypto; everywhere
 * else the same functions fall back to `crypto.subtle` and return promises. Callers check
 * `instanceof Promise` and only await when they must.
 */

type Bytes = Uint8Array;
type MaybePromise<T> = T | Promise<T>;

export type HmacHash = "sha256" | "sha512";

type NodeBuffer = typeof import("node:buffer").Buffer;

function loadNode(): { crypto: typeof NodeCrypto; Buffer: NodeBuffer } | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const crypto = proc?.getBuiltinModule?.("node:crypto") as typeof NodeCrypto | undefined;
    const buffer = proc?.getBuiltinModule?.("node:buffer") as { Buffer: NodeBuffer } | undefined;
    return crypto && buffer ? { crypto, Buffer: buffer.Buffer } : undefined;
  } catch {
    return undefined;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

function concat(parts: ReadonlyArray<string | Bytes>): Bytes {
  const encoded = parts.map((p) => (typeof p === "string" ? encoder.encode(p) : p));
  const out = new Uint8Array(encoded.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of encoded) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const WEB_HASH = { sha256: "SHA-256", sha512: "SHA-512" } as const;

/** A prepared HMAC key: raw bytes for node:crypto, a lazily imported CryptoKey for Web Crypto. */
export interface HmacKey {
  readonly hash: HmacHash;
  readonly bytes: Bytes;
  web?: Promise<CryptoKey>;
}

/** A prepared Ed25519 key (public for verifying, private for signing). */
export interface Ed25519Key {
  readonly raw: Bytes;
  readonly kind: "public" | "private";
  node?: NodeCrypto.KeyObject;
  web?: Promise<CryptoKey>;
}

/** Cryptographic backend; `nodeBackend` when node:crypto is reachable, `webBackend` otherwise. */
export interface CryptoBackend {
  readonly name: "node" | "web";
  /** HMAC of `prefix ‖ body ‖ suffix` (strings as UTF-8), without concatenating on Node. */
  hmac(key: HmacKey, prefix: string, body: Bytes | string, suffix: string): MaybePromise<Bytes>;
  sha256(parts: ReadonlyArray<string | Bytes>): MaybePromise<Bytes>;
  ed25519Verify(key: Ed25519Key, data: Bytes, signature: Bytes): MaybePromise<boolean>;
  ed25519Sign(key: Ed25519Key, data: Bytes): MaybePromise<Bytes>;
  /** Derives the 32-byte public key of a 32-byte Ed25519 seed. */
  ed25519PublicFromSeed(seed: Bytes): MaybePromise<Bytes>;
  /** A new key pair as raw 32-byte seed and public key. */
  ed25519Generate(): MaybePromise<{ seed: Bytes; publicKey: Bytes }>;
  /** UTF-8 decode (lenient: invalid sequences become U+FFFD, as `Buffer#toString` does). */
  utf8(bytes: Bytes): string;
  /** Strict-enough base64 decode; call only on input already checked against the alphabet. */
  fromBase64(text: string): Bytes;
  toBase64(bytes: Bytes): string;
}

// PKCS#8 / SPKI DER prefixes for raw Ed25519 keys (RFC 8410).
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function nodeBackendFrom(node: typeof NodeCrypto, Buffer: NodeBuffer): CryptoBackend {
  const nodeKey = (key: Ed25519Key): NodeCrypto.KeyObject => {
    if (key.node === undefined) {
      const der = concat([key.kind === "public" ? SPKI_PREFIX : PKCS8_PREFIX, key.raw]);
      key.node =
        key.kind === "public"
          ? node.createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" })
          : node.createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
    }
    return key.node;
  };
  return {
    name: "node",
    hmac(key, prefix, body, suffix) {
      const h = node.createHmac(key.hash, key.bytes);
      if (prefix.length > 0) h.update(prefix);
      h.update(body);
      if (suffix.length > 0) h.update(suffix);
      return h.digest();
    },
    sha256(parts) {
      const h = node.createHash("sha256");
      for (const p of parts) h.update(p);
      return h.digest();
    },
    ed25519Verify(key, data, signature) {
      return node.verify(null, data, nodeKey(key), signature);
    },
    ed25519Sign(key, data) {
      return node.sign(null, data, nodeKey(key));
    },
    ed25519PublicFromSeed(seed) {
      const priv = node.createPrivateKey({
        key: Buffer.from(concat([PKCS8_PREFIX, seed])),
        format: "der",
        type: "pkcs8",
      });
      const spki = node.createPublicKey(priv).export({ format: "der", type: "spki" });
      return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
    },
    ed25519Generate() {
      const { privateKey, publicKey } = node.generateKeyPairSync("ed25519");
      const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
      const spki = publicKey.export({ format: "der", type: "spki" });
      return {
        seed: new Uint8Array(pkcs8.subarray(PKCS8_PREFIX.length)),
        publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)),
      };
    },
    utf8(bytes) {
      return Buffer.isBuffer(bytes)
        ? bytes.toString("utf8")
        : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8");
    },
    fromBase64(text) {
      return Buffer.from(text, "base64");
    },
    toBase64(bytes) {
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64");
    },
  };
}

function toArrayBuffer(bytes: Bytes): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function webBackendFrom(subtle: SubtleCrypto): CryptoBackend {
  const hmacKey = (key: HmacKey): Promise<CryptoKey> => {
    key.web ??= subtle.importKey(
      "raw",
      toArrayBuffer(key.bytes),
      { name: "HMAC", hash: WEB_HASH[key.hash] },
      false,
      ["sign"],
    );
    return key.web;
  };
  const edKey = (key: Ed25519Key): Promise<CryptoKey> => {
    key.web ??=
      key.kind === "public"
        ? subtle.importKey("raw", toArrayBuffer(key.raw), { name: "Ed25519" }, false, ["verify"])
        : subtle.importKey(
            "pkcs8",
            toArrayBuffer(concat([PKCS8_PREFIX, key.raw])),
            { name: "Ed25519" },
            false,
            ["sign"],
          );
    return key.web;
  };
  return {
    name: "web",
    async hmac(key, prefix, body, suffix) {
      const data = concat([prefix, body, suffix]);
      return new Uint8Array(await subtle.sign("HMAC", await hmacKey(key), toArrayBuffer(data)));
    },
    async sha256(parts) {
      return new Uint8Array(await subtle.digest("SHA-256", toArrayBuffer(concat(parts))));
    },
    async ed25519Verify(key, data, signature) {
      return subtle.verify("Ed25519", await edKey(key), toArrayBuffer(signature), toArrayBuffer(data));
    },
    async ed25519Sign(key, data) {
      return new Uint8Array(await subtle.sign("Ed25519", await edKey(key), toArrayBuffer(data)));
    },
    async ed25519PublicFromSeed(seed) {
      const priv = await subtle.importKey(
        "pkcs8",
        toArrayBuffer(concat([PKCS8_PREFIX, seed])),
        { name: "Ed25519" },
        true,
        ["sign"],
      );
      const jwk = await subtle.exportKey("jwk", priv);
      return base64UrlDecode(jwk.x ?? "");
    },
    async ed25519Generate() {
      const pair = (await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
      const jwk = await subtle.exportKey("jwk", pair.privateKey);
      return { seed: base64UrlDecode(jwk.d ?? ""), publicKey: base64UrlDecode(jwk.x ?? "") };
    },
    utf8(bytes) {
      return decoder.decode(bytes);
    },
    fromBase64(text) {
      return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    },
    toBase64(bytes) {
      let s = "";
      for (const b of bytes) s += String.fromCharCode(b);
      return btoa(s);
    },
  };
}

function base64UrlDecode(text: string): Bytes {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

const nodeModules = loadNode();

/** The Web Crypto backend (always available on Node ≥ 20, browsers, Deno, Bun, workers). */
export const webBackend: CryptoBackend = webBackendFrom(globalThis.crypto.subtle);
/** The node:crypto backend, when the runtime exposes it. */
export const nodeBackend: CryptoBackend | undefined = nodeModules
  ? nodeBackendFrom(nodeModules.crypto, nodeModules.Buffer)
  : undefined;
/** The backend bulwark uses: node:crypto when reachable, Web Crypto otherwise. */
export const backend: CryptoBackend = nodeBackend ?? webBackend;

/** Prepares an HMAC key once (in a factory), so the hot path never re-derives it. */
export function hmacKey(bytes: Bytes, hash: HmacHash = "sha256"): HmacKey {
  return { hash, bytes };
}

/** Prepares an Ed25519 key from its raw 32 bytes (public key, or private seed). */
export function ed25519Key(raw: Bytes, kind: "public" | "private"): Ed25519Key {
  return { raw, kind };
}

/** Cryptographically random bytes. */
export function randomBytes(length: number): Bytes {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

/** UTF-8 encodes a string. */
export function utf8Encode(text: string): Bytes {
  return encoder.encode(text);
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Bytes): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

const HEX_VALUE = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[65 + i] = 10 + i;
    t[97 + i] = 10 + i;
  }
  return t;
})();

/**
 * Decodes `text.slice(start, start + 2 * length)` as hex into a new array, or undefined when any
 * character is not a hex digit. Never builds an intermediate string.
 */
export function decodeHex(text: string, start: number, length: number): Bytes | undefined {
  if (text.length < start + 2 * length) return undefined;
  const out = new Uint8Array(length);
  let bad = 0;
  for (let i = 0; i < length; i++) {
    const hi = text.charCodeAt(start + 2 * i);
    const lo = text.charCodeAt(start + 2 * i + 1);
    const h = hi < 128 ? (HEX_VALUE[hi] as number) : -1;
    const l = lo < 128 ? (HEX_VALUE[lo] as number) : -1;
    bad |= (h | l) & 0x100;
    out[i] = (h << 4) | l;
  }
  return bad === 0 ? out : undefined;
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes standard (padded or unpadded) base64, or undefined when `text` is not valid base64. */
export function decodeBase64(text: string): Bytes | undefined {
  if (!BASE64_RE.test(text) || text.length % 4 === 1) return undefined;
  const body = text.replace(/=+$/, "");
  if (text.length % 4 !== 0 && text.length !== body.length) return undefined;
  return backend.fromBase64(body + "=".repeat((4 - (body.length % 4)) % 4));
}

/** Standard padded base64 of bytes. */
export function encodeBase64(bytes: Bytes): string {
  return backend.toBase64(bytes);
}
