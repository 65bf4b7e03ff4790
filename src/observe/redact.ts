import { checkKeys, configError, integer, string } from "../core/options.js";

/**
 * Redaction by key name at any depth, URL query-parameter scrubbing, and verbatim secret scrubbing.
 * Copy-on-write: a value in which nothing matched is returned as the very same reference, so the
 * common case costs one walk and no allocation.
 */

/** Key names (normalised: lower-case, `-` `_` `.` and spaces removed) whose values are always redacted. */
export const DEFAULT_SENSITIVE_KEYS: readonly string[] = [
  "password",
  "passwd",
  "pwd",
  "pass",
  "passphrase",
  "secret",
  "secrets",
  "token",
  "accesstoken",
  "refreshtoken",
  "idtoken",
  "authtoken",
  "sessiontoken",
  "sessionid",
  "sid",
  "jwt",
  "bearer",
  "auth",
  "authorization",
  "proxyauthorization",
  "credentials",
  "credential",
  "cookie",
  "cookies",
  "setcookie",
  "ssn",
  "socialsecuritynumber",
  "taxid",
  "ein",
  "tin",
  "cardnumber",
  "cardno",
  "ccnumber",
  "ccnum",
  "creditcard",
  "creditcardnumber",
  "pan",
  "cvv",
  "cvv2",
  "cvc",
  "cvc2",
  "securitycode",
  "cardsecuritycode",
  "pin",
  "otp",
  "totp",
  "mfacode",
  "apikey",
  "xapikey",
  "privatekey",
  "secretkey",
  "clientsecret",
  "encryptionkey",
  "signingkey",
  "masterkey",
  "signature",
  "csrftoken",
  "xcsrftoken",
  "xsrftoken",
  "xxsrftoken",
  "iban",
  "accountnumber",
];

/**
 * Endings that make a key sensitive whatever precedes them (`dbPassword`, `stripeSecretKey`,
 * `githubToken`, `employeeSSN`, `webhookSignature`).
 */
export const DEFAULT_SENSITIVE_SUFFIXES: readonly string[] = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "apikey",
  "privatekey",
  "secretkey",
  "authorization",
  "cookie",
  "ssn",
  "cardnumber",
  "cvv",
  "signature",
];

/** URL parameter names (normalised) whose values are scrubbed from URLs and query strings. */
export const DEFAULT_SENSITIVE_PARAMS: readonly string[] = [
  "code",
  "sig",
  "key",
  "ticket",
  "xamzsignature",
  "xamzcredential",
  "xamzsecuritytoken",
  "xgoogsignature",
  "xgoogcredential",
  "samlresponse",
  "samlrequest",
  "session",
];

/** The placeholder that replaces a redacted value. */
export const REDACTED = "[REDACTED]";

export interface RedactorOptions {
  /** Extra key names to redact, matched like the defaults (case and `-_. ` ignored). Default none. */
  keys?: readonly string[];
  /** Extra URL parameter names to scrub. Default none. */
  params?: readonly string[];
  /**
   * Secret values (from config) to scrub verbatim wherever they appear, also URL-encoded.
   * Each must be at least 6 characters, so ordinary words are never mangled. Default none.
   */
  secrets?: readonly string[];
  /** Replacement text. Default `"[REDACTED]"`. */
  censor?: string;
  /** Deepest nesting walked; anything deeper is replaced by the censor. Default 100. */
  maxDepth?: number;
}

export interface Redactor {
  /** `value` with every sensitive key, URL parameter and secret replaced; the same reference when clean. */
  redact<T>(value: T): T;
  /** Redacts the top-level keys of a log object, leaving keys in `skip` (handled by serializers) as is. */
  redactTop(obj: Record<string, unknown>, skip?: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /** A string with sensitive URL parameters and secret values replaced; the same string when clean. */
  scrubString(value: string): string;
  /** Replaces JSON-escaped secret values in an already serialised line; the same string when clean. */
  scrubSerialized(line: string): string;
  /** Whether a key name is sensitive. */
  isSensitiveKey(key: string): boolean;
  /** Serialises an Error (type, message, stack, code, cause, own properties) and redacts it. */
  serializeError(error: unknown): unknown;
  readonly censor: string;
}

const SEPARATORS = /[-_. ]/g;

/**
 * Keys under which database drivers attach a failed statement's values to the error (PGlite and
 * Postgres.js `params`, `parameters`; knex `bindings`): row data, password hashes, tokens — never
 * logged. The statement text (`query`) stays: its values are placeholders.
 */
const ERROR_VALUE_KEYS = new Set(["params", "parameters", "bindings"]);

/**
 * PostgreSQL error details quote row values: `Key (email)=(a@b.c) already exists.`,
 * `Failing row contains (…)`. The column names stay; the values go.
 */
function scrubRowValues(detail: string, censor: string): string {
  // Greedy to the last parenthesis: a value holding parentheses cannot end the match early.
  return detail.replace(/\)=\(.*\)/s, `)=${censor}`).replace(/(Failing row contains ).*$/s, `$1${censor}`);
}

/** Lower-cases a key and drops `-`, `_`, `.` and spaces. */
export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(SEPARATORS, "");
}

function normalizeParam(name: string): string {
  let n = name;
  if (n.includes("%")) {
    try {
      n = decodeURIComponent(n);
    } catch {
      // keep the raw name
    }
  }
  return n.toLowerCase().replace(/[^a-z0-9]/g, "");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const CACHE_LIMIT = 4096;
const MIN_SECRET_LENGTH = 6;

/*
 * PARAM_PAIR grammar: a `name=value` pair at the start of a string, after `?`, `&`, `#`, `;` (URL,
 * query string, cookie) or after whitespace (prose such as "retry with token=abc"; there only key names
 * count, not URL-only parameter names like `code`, so "exit code=1" is left alone). The name has none of
 * `= & # ? ;` quotes or whitespace; the value runs to the next `& # ;` quote or whitespace.
 */
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
const isPairLead = (c: number) => c === 63 || c === 38 || c === 35 || c === 59 || isSpace(c);
const isNameStop = (c: number) => isPairLead(c) || c === 61 || c === 34 || c === 39;
const isValueStop = (c: number) => c === 38 || c === 35 || c === 59 || c === 34 || c === 39 || isSpace(c);
/** A `"key": value` member inside a string that holds JSON. */
const JSON_PAIR = /"([^"\\]{1,100})"(\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false)/g;
/** The password of `scheme://user:password@host`. */
const USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*):([^\s/?#@]+)@/gi;
/**
 * The credentials after an HTTP auth scheme: any `Bearer <8+ chars>`, and `Basic <base64>` when the
 * base64 decodes to `user:password` (so prose such as "Basic subscription" is left alone).
 */
const AUTH_SCHEME = /\b(bearer|basic)(\s+)([A-Za-z0-9._~+/-]{8,}=*)/gi;
const HAS_AUTH_SCHEME = /\b(?:bearer|basic)\s+[A-Za-z0-9._~+/-]{8}/i;

function looksLikeBasicCredentials(token: string): boolean {
  if (!/^[A-Za-z0-9+/]+=*$/.test(token)) return false;
  try {
    return atob(token).includes(":");
  } catch {
    return false;
  }
}

const KNOWN = ["keys", "params", "secrets", "censor", "maxDepth"] as const;

function stringList(where: string, key: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v.length === 0)) {
    throw configError(where, `"${key}" must be an array of non-empty strings`);
  }
  return value as string[];
}

/** Creates a redactor; options are resolved once. */
export function createRedactor(options: RedactorOptions = {}): Redactor {
  const where = "createRedactor";
  const o = checkKeys(where, options, KNOWN);
  const exact = new Set([...DEFAULT_SENSITIVE_KEYS, ...stringList(where, "keys", o.keys).map(normalizeKey)]);
  const suffixes = DEFAULT_SENSITIVE_SUFFIXES;
  const extraParams = new Set([
    ...DEFAULT_SENSITIVE_PARAMS,
    ...stringList(where, "params", o.params).map(normalizeParam),
  ]);
  const secrets = stringList(where, "secrets", o.secrets);
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) {
      throw configError(where, `every secret must be at least ${MIN_SECRET_LENGTH} characters`);
    }
  }
  const censor = string(where, "censor", o.censor, REDACTED);
  const maxDepth = integer(where, "maxDepth", o.maxDepth, 100, { min: 1, max: 10_000 });

  // Longest first, so a secret that contains another is replaced whole.
  const variants = (forms: (s: string) => string[]) =>
    [...new Set(secrets.flatMap(forms))].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const plainForms = variants((s) => [s, encodeURIComponent(s)]);
  const serializedForms = variants((s) => [JSON.stringify(s).slice(1, -1), encodeURIComponent(s)]);
  const secretPattern = plainForms.length > 0 ? new RegExp(plainForms.join("|"), "g") : undefined;
  const serializedPattern =
    serializedForms.length > 0 ? new RegExp(serializedForms.join("|"), "g") : undefined;

  const keyCache = new Map<string, boolean>();
  const isSensitiveKey = (key: string): boolean => {
    let hit = keyCache.get(key);
    if (hit === undefined) {
      const n = normalizeKey(key);
      hit = exact.has(n);
      for (let i = 0; !hit && i < suffixes.length; i++) hit = n.endsWith(suffixes[i] as string);
      if (keyCache.size >= CACHE_LIMIT) keyCache.clear();
      keyCache.set(key, hit);
    }
    return hit;
  };
  const paramCache = new Map<string, boolean>();
  const isSensitiveParam = (name: string): boolean => {
    let hit = paramCache.get(name);
    if (hit === undefined) {
      const n = normalizeParam(name);
      hit = extraParams.has(n) || isSensitiveKey(n);
      if (paramCache.size >= CACHE_LIMIT) paramCache.clear();
      paramCache.set(name, hit);
    }
    return hit;
  };

  /**
   * Replaces the value of every sensitive `name=value` pair (see PARAM_PAIR for the grammar). A hand
   * scan instead of a regex replace: most strings with an `=` are URLs whose parameters are all fine.
   */
  const scrubParams = (value: string): string => {
    let eq = value.indexOf("=");
    if (eq === -1) return value;
    const length = value.length;
    let out: string | undefined;
    let last = 0;
    while (eq !== -1) {
      let start = eq - 1;
      while (start >= 0 && !isNameStop(value.charCodeAt(start))) start--;
      let end = eq + 1;
      while (end < length && !isValueStop(value.charCodeAt(end))) end++;
      const lead = start < 0 ? -1 : value.charCodeAt(start);
      const leadOk = lead === -1 || isPairLead(lead);
      if (leadOk && start + 1 < eq && end > eq + 1) {
        const name = value.slice(start + 1, eq);
        const prose = lead !== -1 && isSpace(lead);
        if ((prose ? isSensitiveKey(name) : isSensitiveParam(name)) && value.slice(eq + 1, end) !== censor) {
          out = `${out ?? ""}${value.slice(last, eq + 1)}${censor}`;
          last = end;
        }
      }
      eq = end < length ? value.indexOf("=", end) : -1;
    }
    return out === undefined ? value : out + value.slice(last);
  };

  const scrubJson = (value: string): string => {
    if (value.indexOf('":') === -1 && value.indexOf('" :') === -1) return value;
    let changed = false;
    const out = value.replace(JSON_PAIR, (whole, key: string, colon: string) => {
      if (!isSensitiveKey(key)) return whole;
      changed = true;
      return `"${key}"${colon}"${censor}"`;
    });
    return changed ? out : value;
  };

  const scrubString = (value: string): string => {
    // One pass over short strings to skip the scrubbers that cannot apply (most log strings).
    let eq = true;
    let quote = true;
    let at = true;
    let space = true;
    if (value.length <= 64) {
      eq = quote = at = space = false;
      for (let i = 0; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c === 61) eq = true;
        else if (c === 34) quote = true;
        else if (c === 64) at = true;
        else if (c === 32 || c === 9) space = true;
      }
    }
    let out = value;
    if (eq) out = scrubParams(out);
    if (quote) out = scrubJson(out);
    if (at && out.indexOf("://") !== -1 && out.indexOf("@") !== -1) {
      out = out.replace(USERINFO, (_, head: string, pw: string) =>
        pw === censor ? _ : `${head}:${censor}@`,
      );
    }
    if (space && (out.indexOf(" ") !== -1 || out.indexOf("\t") !== -1) && HAS_AUTH_SCHEME.test(out)) {
      out = out.replace(AUTH_SCHEME, (whole, scheme: string, sp: string, token: string) =>
        scheme.toLowerCase() === "bearer" || looksLikeBasicCredentials(token)
          ? `${scheme}${sp}${censor}`
          : whole,
      );
    }
    if (secretPattern !== undefined) {
      secretPattern.lastIndex = 0;
      if (secretPattern.test(out)) out = out.replace(secretPattern, censor);
    }
    return out;
  };

  const scrubSerialized = (line: string): string => {
    if (serializedPattern === undefined) return line;
    serializedPattern.lastIndex = 0;
    return serializedPattern.test(line) ? line.replace(serializedPattern, censor) : line;
  };

  /**
   * Walk state: the ancestors on the current path (cycle detection), and — once a value is large
   * enough for shared sub-objects to matter — a memo so every object is walked once.
   */
  interface Walk {
    path: object[];
    memo: Map<object, unknown> | undefined;
    visited: number;
  }
  const MEMO_AFTER = 256;
  const newWalk = (): Walk => ({ path: [], memo: undefined, visited: 0 });

  /** A shallow copy of the own enumerable string keys (spread defines `__proto__` as plain data). */
  const copyOf = (source: Record<string, unknown>): Record<string, unknown> => ({ ...source });

  const setKey = (target: Record<string, unknown>, key: string, value: unknown) => {
    if (key === "__proto__") {
      Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
    } else {
      target[key] = value;
    }
  };

  const walkError = (error: Error, depth: number, st: Walk): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    st.path.push(error);
    const ctor = (error as { constructor?: { name?: unknown } }).constructor;
    out.type = typeof ctor?.name === "string" && ctor.name.length > 0 ? ctor.name : error.name;
    out.message = scrubString(String(error.message));
    if (typeof error.stack === "string") out.stack = scrubString(error.stack);
    for (const key of Object.keys(error)) {
      if (key === "message" || key === "stack") continue;
      const v = (error as unknown as Record<string, unknown>)[key];
      if (v !== undefined && (isSensitiveKey(key) || ERROR_VALUE_KEYS.has(key))) setKey(out, key, censor);
      else if (key === "detail" && typeof v === "string")
        setKey(out, key, scrubString(scrubRowValues(v, censor)));
      else setKey(out, key, walk(v, depth + 1, st));
    }
    const cause = (error as { cause?: unknown }).cause;
    if (cause !== undefined && !Object.keys(error).includes("cause")) out.cause = walk(cause, depth + 1, st);
    const errors = (error as { errors?: unknown }).errors;
    if (Array.isArray(errors) && out.errors === undefined) out.errors = walk(errors, depth + 1, st);
    st.path.pop();
    return out;
  };

  function walk(value: unknown, depth: number, st: Walk): unknown {
    if (typeof value === "string") return scrubString(value);
    if (typeof value !== "object" || value === null) return value;
    if (st.path.includes(value)) return "[Circular]";
    if (st.memo !== undefined) {
      const seen = st.memo.get(value);
      if (seen !== undefined) return seen;
    } else if (++st.visited > MEMO_AFTER) {
      st.memo = new Map();
    }
    if (depth >= maxDepth) return censor;
    let result: unknown = value;
    if (Array.isArray(value)) {
      st.path.push(value);
      let out: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        const r = walk(v, depth + 1, st);
        if (r !== v) {
          out ??= value.slice();
          out[i] = r;
        }
      }
      if (out !== undefined) result = out;
    } else {
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        // Class instances: errors are serialised, binary data kept, toJSON honoured like JSON.stringify.
        if (value instanceof Error) return walkError(value, depth, st);
        if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
        const toJSON = (value as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === "function") {
          st.path.push(value);
          const json = toJSON.call(value);
          const r = walk(json, depth, st);
          st.path.pop();
          if (r !== json) st.memo?.set(value, r);
          return r === json ? value : r;
        }
      }
      st.path.push(value);
      const source = value as Record<string, unknown>;
      const keys = Object.keys(source);
      let out: Record<string, unknown> | undefined;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        const v = source[k];
        const r = v !== undefined && isSensitiveKey(k) ? censor : walk(v, depth + 1, st);
        if (r !== v) {
          out ??= copyOf(source);
          setKey(out, k, r);
        }
      }
      if (out !== undefined) result = out;
    }
    st.path.pop();
    st.memo?.set(value, result);
    return result;
  }

  const redact = <T>(value: T): T => {
    if (typeof value === "string") return scrubString(value) as T;
    if (typeof value !== "object" || value === null) return value;
    return walk(value, 0, newWalk()) as T;
  };

  const redactTop = (
    obj: Record<string, unknown>,
    skip?: Readonly<Record<string, unknown>>,
  ): Record<string, unknown> => {
    let st: Walk | undefined;
    let out: Record<string, unknown> | undefined;
    const keys = Object.keys(obj);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const v = obj[k];
      let r: unknown;
      if (v === undefined || (skip !== undefined && skip[k] !== undefined)) r = v;
      else if (isSensitiveKey(k)) r = censor;
      else if (typeof v === "string") r = scrubString(v);
      else if (typeof v !== "object" || v === null) r = v;
      else {
        st ??= newWalk();
        r = walk(v, 1, st);
      }
      if (r !== v) {
        out ??= copyOf(obj);
        setKey(out, k, r);
      }
    }
    return out ?? obj;
  };

  const serializeError = (error: unknown): unknown => {
    if (error instanceof Error) return walkError(error, 0, newWalk());
    return redact(error);
  };

  return { redact, redactTop, scrubString, scrubSerialized, isSensitiveKey, serializeError, censor };
}
