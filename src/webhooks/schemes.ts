import { timingSafeEqual } from "../core/compare.js";
import { checkKeys, configError, describe } from "../core/options.js";
import {
  backend,
  decodeBase64,
  decodeHex,
  type Ed25519Key,
  ed25519Key,
  type HmacKey,
  hmacKey,
  toHex,
  utf8Encode,
} from "./crypto.js";
import type { HmacProviderOptions, VerifyFailureCode, WebhookProvider } from "./types.js";

/**
 * Signature schemes. Each preset is compiled once by `compileScheme` into a `Scheme` whose `check`
 * reads the headers it needs, verifies the signature over the raw body and the timestamp window, and
 * reports what the verifier needs next. Nothing here parses the body.
 */

type Bytes = Uint8Array;
/** Anything that reads a header by lower-case name; a RequestView is one. */
export interface HeaderSource {
  header(name: string): string | undefined;
}

export interface Checked {
  readonly ok: true;
  /** Signed timestamp (seconds); undefined when the scheme signs none. */
  readonly timestamp: number | undefined;
  /** Delivery id read from headers; undefined when the id lives in the body (Stripe). */
  readonly id: string | undefined;
  /** Replay key suffix: the signed id, or the signature itself when the id is not signed. */
  readonly replayId: string | undefined;
}

export interface CheckFailed {
  readonly ok: false;
  readonly code: VerifyFailureCode;
}

export interface Scheme {
  readonly name: string;
  check(
    headers: HeaderSource,
    body: Bytes | string,
    nowSeconds: number,
    toleranceSeconds: number,
  ): Checked | CheckFailed | Promise<Checked | CheckFailed>;
}

const failures = new Map<VerifyFailureCode, CheckFailed>();
/** One frozen failure object per code: failing costs no allocation. */
export function failure(code: VerifyFailureCode): CheckFailed {
  let f = failures.get(code);
  if (f === undefined) {
    f = Object.freeze({ ok: false as const, code });
    failures.set(code, f);
  }
  return f;
}

const MISSING = failure("ERR_WEBHOOK_SIGNATURE_MISSING");
const MALFORMED = failure("ERR_WEBHOOK_SIGNATURE_MALFORMED");
const MISMATCH = failure("ERR_WEBHOOK_SIGNATURE_MISMATCH");
const EMPTY = failure("ERR_WEBHOOK_BODY_EMPTY");
const TOO_OLD = failure("ERR_WEBHOOK_TIMESTAMP_TOO_OLD");
const IN_FUTURE = failure("ERR_WEBHOOK_TIMESTAMP_IN_FUTURE");

/** At most this many signatures are considered per header (bounds the work per delivery). */
const MAX_SIGNATURES = 16;
/** Longer signature headers are malformed. */
const MAX_HEADER_LENGTH = 8192;
const MAX_ID_LENGTH = 256;
const TIMESTAMP_RE = /^[1-9][0-9]{0,11}$/;

function window(timestamp: number, nowSeconds: number, toleranceSeconds: number): CheckFailed | undefined {
  if (nowSeconds - timestamp > toleranceSeconds) return TOO_OLD;
  if (timestamp - nowSeconds > toleranceSeconds) return IN_FUTURE;
  return undefined;
}

/** True when any key's HMAC over prefix‖body‖suffix equals any signature (constant-time compares). */
function hmacMatches(
  keys: readonly HmacKey[],
  prefix: string,
  body: Bytes | string,
  suffix: string,
  signatures: readonly Bytes[],
): boolean | Promise<boolean> {
  let pending: Promise<Bytes>[] | undefined;
  for (const key of keys) {
    const digest = backend.hmac(key, prefix, body, suffix);
    if (digest instanceof Promise) {
      pending ??= [];
      pending.push(digest);
      continue;
    }
    for (const signature of signatures) if (timingSafeEqual(digest, signature)) return true;
  }
  if (pending === undefined) return false;
  return Promise.all(pending).then((digests) =>
    digests.some((d) => signatures.some((s) => timingSafeEqual(d, s))),
  );
}

/** The verdict once the signature check is known: mismatch, out of window, or the checked delivery. */
function verdict(
  matched: boolean,
  timestamp: number | undefined,
  id: string | undefined,
  replayId: string | undefined,
  nowSeconds: number,
  toleranceSeconds: number,
): Checked | CheckFailed {
  if (!matched) return MISMATCH;
  if (timestamp !== undefined) {
    const outside = window(timestamp, nowSeconds, toleranceSeconds);
    if (outside !== undefined) return outside;
  }
  return { ok: true, timestamp, id, replayId };
}

// ── Stripe ──────────────────────────────────────────────────────────────────────────────────────

interface StripeHeader {
  readonly timestampText: string;
  readonly signatures: Bytes[];
}

/** Parses `t=…,v1=…[,v1=…][,v0=…]`; undefined when malformed. Unknown schemes are ignored. */
export function parseStripeHeader(header: string): StripeHeader | undefined {
  // Fast path for the form Stripe sends: "t=" + 10 digits + ",v1=" + 64 hex digits, nothing else.
  if (
    header.length === 80 &&
    header.charCodeAt(0) === 116 /* t */ &&
    header.charCodeAt(1) === 61 /* = */ &&
    header.charCodeAt(12) === 44 /* , */ &&
    header.charCodeAt(13) === 118 /* v */ &&
    header.charCodeAt(14) === 49 /* 1 */ &&
    header.charCodeAt(15) === 61
  ) {
    const timestampText = header.slice(2, 12);
    const signature = decodeHex(header, 16, 32);
    if (signature !== undefined && TIMESTAMP_RE.test(timestampText)) {
      return { timestampText, signatures: [signature] };
    }
  }
  if (header.length > MAX_HEADER_LENGTH) return undefined;
  let timestampText: string | undefined;
  const signatures: Bytes[] = [];
  let seen = 0;
  let pos = 0;
  while (pos < header.length) {
    while (header.charCodeAt(pos) === 32) pos++;
    let end = header.indexOf(",", pos);
    if (end === -1) end = header.length;
    const eq = header.indexOf("=", pos);
    if (eq === -1 || eq >= end) return undefined;
    const keyLength = eq - pos;
    if (keyLength === 1 && header.charCodeAt(pos) === 116 /* t */) {
      if (timestampText !== undefined) return undefined;
      timestampText = header.slice(eq + 1, end);
    } else if (
      keyLength === 2 &&
      header.charCodeAt(pos) === 118 /* v */ &&
      header.charCodeAt(pos + 1) === 49
    ) {
      if (++seen > MAX_SIGNATURES) return undefined;
      if (end - eq - 1 === 64) {
        const sig = decodeHex(header, eq + 1, 32);
        if (sig !== undefined) signatures.push(sig);
      }
    }
    pos = end + 1;
  }
  if (timestampText === undefined || !TIMESTAMP_RE.test(timestampText) || signatures.length === 0) {
    return undefined;
  }
  return { timestampText, signatures };
}

function stripeScheme(secrets: readonly (string | Bytes)[]): Scheme {
  const keys = secrets.map((secret, i) => {
    if (typeof secret !== "string" || !secret.startsWith("whsec_") || secret.length < 16) {
      throw configError(
        "webhookVerifier",
        `secrets[${i}] must be a Stripe endpoint secret string starting with "whsec_", got ${describe(secret)}`,
      );
    }
    return hmacKey(utf8Encode(secret));
  });
  return {
    name: "stripe",
    check(headers, body, nowSeconds, toleranceSeconds) {
      const value = headers.header("stripe-signature");
      if (value === undefined || value.length === 0) return MISSING;
      const parsed = parseStripeHeader(value);
      if (parsed === undefined) return MALFORMED;
      if (body.length === 0) return EMPTY;
      const timestamp = Number(parsed.timestampText);
      const matched = hmacMatches(keys, `${parsed.timestampText}.`, body, "", parsed.signatures);
      if (matched instanceof Promise) {
        return matched.then((m) => verdict(m, timestamp, undefined, undefined, nowSeconds, toleranceSeconds));
      }
      return verdict(matched, timestamp, undefined, undefined, nowSeconds, toleranceSeconds);
    },
  };
}

// ── Standard Webhooks ───────────────────────────────────────────────────────────────────────────

/** Decodes a Standard Webhooks secret or key; `whsec_` (and unprefixed) is HMAC, `whpk_`/`whsk_` Ed25519. */
export function decodeStandardKey(
  secret: string,
  where: string,
): { kind: "hmac"; bytes: Bytes } | { kind: "public"; bytes: Bytes } | { kind: "private"; seed: Bytes } {
  const [prefix, rest] = secret.startsWith("whsec_")
    ? ["whsec_", secret.slice(6)]
    : secret.startsWith("whpk_")
      ? ["whpk_", secret.slice(5)]
      : secret.startsWith("whsk_")
        ? ["whsk_", secret.slice(5)]
        : ["", secret];
  const bytes = decodeBase64(rest);
  if (bytes === undefined) throw configError(where, `${describeKey(prefix)} is not valid base64`);
  if (prefix === "whpk_") {
    if (bytes.length !== 32)
      throw configError(where, "a whpk_ key must decode to a 32-byte Ed25519 public key");
    return { kind: "public", bytes };
  }
  if (prefix === "whsk_") {
    if (bytes.length !== 32 && bytes.length !== 64) {
      throw configError(
        where,
        "a whsk_ key must decode to a 32-byte Ed25519 seed (or 64-byte seed‖public key)",
      );
    }
    const seed = bytes.slice(0, 32);
    if (bytes.length === 64) {
      const derived = backend.ed25519PublicFromSeed(seed);
      if (!(derived instanceof Promise) && !timingSafeEqual(derived, bytes.subarray(32))) {
        throw configError(where, "a 64-byte whsk_ key's public half does not match its seed");
      }
    }
    return { kind: "private", seed };
  }
  if (bytes.length < 24 || bytes.length > 64) {
    throw configError(where, "a whsec_ secret must decode to 24–64 bytes (Standard Webhooks)");
  }
  return { kind: "hmac", bytes };
}

function describeKey(prefix: string): string {
  return prefix === "" ? "an unprefixed secret" : `a ${prefix} key`;
}

interface StandardSignatures {
  readonly v1: Bytes[];
  readonly v1a: Bytes[];
}

const BASE64_CHAR = (() => {
  const t = new Uint8Array(128);
  for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") t[c.charCodeAt(0)] = 1;
  return t;
})();

/** Decodes `text[start, end)` as padded base64 of exactly `length` bytes, without a regex or a split. */
function base64At(text: string, start: number, end: number, length: number): Bytes | undefined {
  if (end - start !== 4 * Math.ceil(length / 3)) return undefined;
  const pad = (3 - (length % 3)) % 3;
  for (let i = start; i < end - pad; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || BASE64_CHAR[c] === 0) return undefined;
  }
  for (let i = end - pad; i < end; i++) if (text.charCodeAt(i) !== 61 /* = */) return undefined;
  return backend.fromBase64(text.slice(start, end));
}

/** Parses the space-separated `v1,<base64>` / `v1a,<base64>` list; undefined when nothing usable. */
export function parseStandardSignatures(value: string): StandardSignatures | undefined {
  if (value.length > MAX_HEADER_LENGTH) return undefined;
  const v1: Bytes[] = [];
  const v1a: Bytes[] = [];
  let count = 0;
  let pos = 0;
  while (pos < value.length) {
    let end = value.indexOf(" ", pos);
    if (end === -1) end = value.length;
    if (end > pos) {
      if (++count > MAX_SIGNATURES) return undefined;
      const comma = value.indexOf(",", pos);
      if (
        comma !== -1 &&
        comma < end &&
        value.charCodeAt(pos) === 118 /* v */ &&
        value.charCodeAt(pos + 1) === 49
      ) {
        if (comma === pos + 2) {
          const sig = base64At(value, comma + 1, end, 32);
          if (sig !== undefined) v1.push(sig);
        } else if (comma === pos + 3 && value.charCodeAt(pos + 2) === 97 /* a */) {
          const sig = base64At(value, comma + 1, end, 64);
          if (sig !== undefined) v1a.push(sig);
        }
      }
    }
    pos = end + 1;
  }
  return v1.length + v1a.length === 0 ? undefined : { v1, v1a };
}

function standardScheme(secrets: readonly (string | Bytes)[]): Scheme {
  const hmacKeys: HmacKey[] = [];
  const publicKeys: Array<Ed25519Key | Promise<Ed25519Key>> = [];
  secrets.forEach((secret, i) => {
    const where = `webhookVerifier: secrets[${i}]`;
    if (typeof secret !== "string") {
      throw configError(where, `must be a whsec_/whpk_/whsk_ string, got ${describe(secret)}`);
    }
    const key = decodeStandardKey(secret, where);
    if (key.kind === "hmac") hmacKeys.push(hmacKey(key.bytes));
    else if (key.kind === "public") publicKeys.push(ed25519Key(key.bytes, "public"));
    else {
      const pub = backend.ed25519PublicFromSeed(key.seed);
      publicKeys.push(
        pub instanceof Promise ? pub.then((p) => ed25519Key(p, "public")) : ed25519Key(pub, "public"),
      );
    }
  });

  async function edMatches(content: Bytes, signatures: readonly Bytes[]): Promise<boolean> {
    for (const pending of publicKeys) {
      const key = await pending;
      for (const sig of signatures) if (await backend.ed25519Verify(key, content, sig)) return true;
    }
    return false;
  }

  function edMatchesSync(content: Bytes, signatures: readonly Bytes[]): boolean | Promise<boolean> {
    for (const key of publicKeys) {
      if (key instanceof Promise) return edMatches(content, signatures);
      for (const sig of signatures) {
        const ok = backend.ed25519Verify(key, content, sig);
        if (ok instanceof Promise) return edMatches(content, signatures);
        if (ok) return true;
      }
    }
    return false;
  }

  return {
    name: "standard-webhooks",
    check(headers, body, nowSeconds, toleranceSeconds) {
      const id = headers.header("webhook-id");
      const timestampText = headers.header("webhook-timestamp");
      const signature = headers.header("webhook-signature");
      if (!id || !timestampText || !signature) return MISSING;
      if (id.length > MAX_ID_LENGTH || !TIMESTAMP_RE.test(timestampText)) return MALFORMED;
      const parsed = parseStandardSignatures(signature);
      if (parsed === undefined) return MALFORMED;
      if (body.length === 0) return EMPTY;
      const timestamp = Number(timestampText);
      const prefix = `${id}.${timestampText}.`;
      if (parsed.v1.length > 0 && hmacKeys.length > 0) {
        const matched = hmacMatches(hmacKeys, prefix, body, "", parsed.v1);
        if (matched === true) return verdict(true, timestamp, id, id, nowSeconds, toleranceSeconds);
        if (matched instanceof Promise) {
          return matched.then((m) =>
            m
              ? verdict(true, timestamp, id, id, nowSeconds, toleranceSeconds)
              : viaEd25519(prefix, body, parsed.v1a, timestamp, id, nowSeconds, toleranceSeconds),
          );
        }
      }
      return viaEd25519(prefix, body, parsed.v1a, timestamp, id, nowSeconds, toleranceSeconds);
    },
  };

  function viaEd25519(
    prefix: string,
    body: Bytes | string,
    signatures: readonly Bytes[],
    timestamp: number,
    id: string,
    nowSeconds: number,
    toleranceSeconds: number,
  ): Checked | CheckFailed | Promise<Checked | CheckFailed> {
    if (signatures.length === 0 || publicKeys.length === 0) return MISMATCH;
    const head = utf8Encode(prefix);
    const tail = typeof body === "string" ? utf8Encode(body) : body;
    const content = new Uint8Array(head.length + tail.length);
    content.set(head, 0);
    content.set(tail, head.length);
    const matched = edMatchesSync(content, signatures);
    if (matched instanceof Promise) {
      return matched.then((m) => verdict(m, timestamp, id, id, nowSeconds, toleranceSeconds));
    }
    return verdict(matched, timestamp, id, id, nowSeconds, toleranceSeconds);
  }
}

// ── GitHub and generic HMAC ─────────────────────────────────────────────────────────────────────

function sharedSecretKeys(
  secrets: readonly (string | Bytes)[],
  hash: "sha256" | "sha512",
  provider: string,
): HmacKey[] {
  return secrets.map((secret, i) => {
    if (typeof secret === "string" && secret.length > 0) return hmacKey(utf8Encode(secret), hash);
    if (secret instanceof Uint8Array && secret.length > 0) return hmacKey(secret.slice(), hash);
    throw configError(
      "webhookVerifier",
      `secrets[${i}] must be a non-empty string or Uint8Array for ${provider}, got ${describe(secret)}`,
    );
  });
}

interface Template {
  /** Literal text and placeholders before `{body}`. */
  readonly before: ReadonlyArray<string | "{id}" | "{timestamp}">;
  readonly after: ReadonlyArray<string | "{id}" | "{timestamp}">;
  readonly usesId: boolean;
  readonly usesTimestamp: boolean;
}

function compileTemplate(content: string): Template {
  const parts = content.split("{body}");
  if (parts.length !== 2) {
    throw configError("webhookVerifier", 'provider.hmac.content must contain "{body}" exactly once');
  }
  const tokenize = (text: string) =>
    text.split(/(\{id\}|\{timestamp\})/).filter((p) => p.length > 0) as Array<
      string | "{id}" | "{timestamp}"
    >;
  const before = tokenize(parts[0] as string);
  const after = tokenize(parts[1] as string);
  const all = [...before, ...after];
  for (const p of all) {
    if (/\{[a-z]*\}/i.test(p) && p !== "{id}" && p !== "{timestamp}") {
      throw configError(
        "webhookVerifier",
        "provider.hmac.content may only use the placeholders {body}, {id} and {timestamp}",
      );
    }
  }
  return { before, after, usesId: all.includes("{id}"), usesTimestamp: all.includes("{timestamp}") };
}

function render(parts: Template["before"], id: string, timestamp: string): string {
  let s = "";
  for (const p of parts) s += p === "{id}" ? id : p === "{timestamp}" ? timestamp : p;
  return s;
}

const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

function headerName(value: unknown, key: string): string {
  if (typeof value !== "string" || !HEADER_NAME_RE.test(value.toLowerCase())) {
    throw configError(
      "webhookVerifier",
      `provider.hmac.${key} must be a header name, got ${describe(value)}`,
    );
  }
  return value.toLowerCase();
}

interface HmacSchemeSpec {
  readonly name: string;
  readonly header: string;
  readonly encoding: "hex" | "base64";
  readonly prefix: string;
  readonly hash: "sha256" | "sha512";
  readonly template: Template;
  readonly idHeader: string | undefined;
  readonly timestampHeader: string | undefined;
}

function hmacScheme(spec: HmacSchemeSpec, secrets: readonly (string | Bytes)[]): Scheme {
  const keys = sharedSecretKeys(secrets, spec.hash, spec.name);
  const digestLength = spec.hash === "sha256" ? 32 : 64;
  const { template } = spec;
  const simple = template.before.length === 0 && template.after.length === 0;
  return {
    name: spec.name,
    check(headers, body, nowSeconds, toleranceSeconds) {
      const value = headers.header(spec.header);
      if (value === undefined || value.length === 0) return MISSING;
      if (!value.startsWith(spec.prefix)) return MALFORMED;
      const encoded = value.slice(spec.prefix.length);
      const signature =
        spec.encoding === "hex"
          ? encoded.length === 2 * digestLength
            ? decodeHex(encoded, 0, digestLength)
            : undefined
          : decodeBase64(encoded);
      if (signature?.length !== digestLength) return MALFORMED;
      const headerId = spec.idHeader === undefined ? undefined : headers.header(spec.idHeader);
      let timestamp: number | undefined;
      let timestampText = "";
      if (template.usesTimestamp) {
        const t = headers.header(spec.timestampHeader as string);
        if (t === undefined || t.length === 0) return MISSING;
        if (!TIMESTAMP_RE.test(t)) return MALFORMED;
        timestampText = t;
        timestamp = Number(t);
      }
      if (template.usesId) {
        if (headerId === undefined || headerId.length === 0) return MISSING;
        if (headerId.length > MAX_ID_LENGTH) return MALFORMED;
      }
      if (body.length === 0) return EMPTY;
      const idText = headerId ?? "";
      const prefix = simple ? "" : render(template.before, idText, timestampText);
      const suffix = simple ? "" : render(template.after, idText, timestampText);
      const signatureId = `${spec.hash}:${toHex(signature)}`;
      const id =
        headerId !== undefined && headerId.length > 0 && headerId.length <= MAX_ID_LENGTH
          ? headerId
          : signatureId;
      const replayId = template.usesId ? id : signatureId;
      const matched = hmacMatches(keys, prefix, body, suffix, [signature]);
      if (matched instanceof Promise) {
        return matched.then((m) => verdict(m, timestamp, id, replayId, nowSeconds, toleranceSeconds));
      }
      return verdict(matched, timestamp, id, replayId, nowSeconds, toleranceSeconds);
    },
  };
}

const GITHUB_SPEC: HmacSchemeSpec = {
  name: "github",
  header: "x-hub-signature-256",
  encoding: "hex",
  prefix: "sha256=",
  hash: "sha256",
  template: compileTemplate("{body}"),
  idHeader: "x-github-delivery",
  timestampHeader: undefined,
};

function genericSpec(options: HmacProviderOptions): HmacSchemeSpec {
  checkKeys("webhookVerifier: provider.hmac", options, [
    "header",
    "encoding",
    "prefix",
    "content",
    "algorithm",
    "idHeader",
    "timestampHeader",
  ]);
  const encoding = options.encoding;
  if (encoding !== "hex" && encoding !== "base64") {
    throw configError("webhookVerifier", 'provider.hmac.encoding must be "hex" or "base64"');
  }
  const algorithm = options.algorithm ?? "sha256";
  if (algorithm !== "sha256" && algorithm !== "sha512") {
    throw configError("webhookVerifier", 'provider.hmac.algorithm must be "sha256" or "sha512"');
  }
  if (options.prefix !== undefined && typeof options.prefix !== "string") {
    throw configError(
      "webhookVerifier",
      `provider.hmac.prefix must be a string, got ${describe(options.prefix)}`,
    );
  }
  if (options.content !== undefined && typeof options.content !== "string") {
    throw configError(
      "webhookVerifier",
      `provider.hmac.content must be a string, got ${describe(options.content)}`,
    );
  }
  const template = compileTemplate(options.content ?? "{body}");
  const idHeader = options.idHeader === undefined ? undefined : headerName(options.idHeader, "idHeader");
  const timestampHeader =
    options.timestampHeader === undefined
      ? undefined
      : headerName(options.timestampHeader, "timestampHeader");
  if (template.usesId && idHeader === undefined) {
    throw configError(
      "webhookVerifier",
      "provider.hmac.content uses {id}, so provider.hmac.idHeader is required",
    );
  }
  if (template.usesTimestamp && timestampHeader === undefined) {
    throw configError(
      "webhookVerifier",
      "provider.hmac.content uses {timestamp}, so provider.hmac.timestampHeader is required",
    );
  }
  if (!template.usesTimestamp && timestampHeader !== undefined) {
    throw configError(
      "webhookVerifier",
      "provider.hmac.timestampHeader is set but content does not sign {timestamp}; an unsigned timestamp proves nothing",
    );
  }
  return {
    name: "hmac",
    header: headerName(options.header, "header"),
    encoding,
    prefix: options.prefix ?? "",
    hash: algorithm,
    template,
    idHeader,
    timestampHeader,
  };
}

/** Compiles a provider preset and its secrets into a Scheme; throws ERR_CONFIG_INVALID when wrong. */
export function compileScheme(provider: WebhookProvider, secrets: readonly (string | Bytes)[]): Scheme {
  if (provider === "stripe") return stripeScheme(secrets);
  if (provider === "standard-webhooks") return standardScheme(secrets);
  if (provider === "github") return hmacScheme(GITHUB_SPEC, secrets);
  if (
    provider !== null &&
    typeof provider === "object" &&
    "hmac" in provider &&
    Object.keys(provider).length === 1
  ) {
    const spec = genericSpec(provider.hmac);
    return hmacScheme(spec, secrets);
  }
  throw configError(
    "webhookVerifier",
    `"provider" must be "stripe", "standard-webhooks", "github" or { hmac: {…} }, got ${
      typeof provider === "string" ? `"${provider}"` : describe(provider)
    }`,
  );
}
