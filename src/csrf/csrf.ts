import { type Clock, systemClock } from "../core/clock.js";
import type { ERROR_CODES } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { boolean, checkKeys, configError, describe, fn, integer, oneOf, string } from "../core/options.js";
import { checkOrigin } from "../core/origin.js";
import { CONTINUE, type HeaderList, type Outcome, type RespondOutcome } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import type { RequestView } from "../core/request.js";
import { newSessionId, readCookie, readSessionId, serializeCookie, signSessionId } from "./cookie.js";
import { type OriginPolicy, originAllowed } from "./fetch-metadata.js";
import { formEncoding, readFormField } from "./form.js";
import { deriveKeys, issueToken, type TokenRejection, verifyToken } from "./token.js";

const WHERE = "csrf";

/** Options of {@link csrf}. */
export interface CsrfOptions {
  /**
   * Secrets for signing tokens (and the anonymous session cookie), each at least 32 bytes. The first
   * signs; all verify, so a new secret goes first and an old one stays until its tokens expired.
   * Required unless `mode` is `"origin"`.
   */
  secrets?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** Which layers must pass: Fetch Metadata (`"origin"`), the token (`"token"`) or both. Default `"both"`. */
  mode?: "both" | "origin" | "token";
  /** Other origins (`scheme://host[:port]`) allowed to send unsafe requests. Default none. */
  trustedOrigins?: readonly string[];
  /**
   * This application's origins as browsers see them. Default: derived per request from the
   * connection's scheme and `Host`; set it behind a TLS-terminating proxy.
   */
  publicOrigins?: readonly string[];
  /** Paths exempt from every check (webhook receivers), matched exactly against the path. Default none. */
  exemptPaths?: readonly string[];
  /**
   * The application's session id for a request, or `undefined` for an anonymous visitor. Tokens are
   * bound to it, so a token stolen from one session is useless in another. Default: no application
   * session; every visitor gets an anonymous session in a signed `__Host-` cookie set by this module.
   * Anonymous visitors get that cookie even when this option is set.
   */
  sessionId?: (view: RequestView) => string | undefined | Promise<string | undefined>;
  /** Request header carrying the token. Default `"x-csrf-token"`. */
  headerName?: string;
  /** Form field carrying the token in urlencoded and multipart bodies. Default `"_csrf"`. */
  fieldName?: string;
  /** Largest form body read to find the field (the adapter answers 413 above it). Default 1 MiB. */
  maxFormBytes?: number;
  /** Lifetime of a token. Default 86 400 (one day); the browser client refreshes transparently. */
  maxAgeSeconds?: number;
  /** Path of the token endpoint (`GET` → `{"token": "…"}`), or `false` for none. Default `"/csrf-token"`. */
  tokenPath?: string | false;
  /**
   * When to put a fresh token in `locals.csrfToken` for server-rendered pages: `"documents"` (page
   * navigations only, so images and API calls never mint a session cookie), `"always"`, or `"never"`.
   * Default `"documents"`.
   */
  localsToken?: "documents" | "always" | "never";
  /** The anonymous session cookie. Default name `__Host-bulwark-csrf`, `SameSite=Lax`, browser-session lifetime. */
  cookie?: { name?: string; sameSite?: "lax" | "strict"; maxAgeSeconds?: number };
  /** Drops `Secure` and the `__Host-` requirement (plain-http development only). Default false. */
  dangerouslyAllowInsecureCookie?: boolean;
  /** Sends the cookie with `SameSite=None` (a widget embedded on other sites). Default false. */
  dangerouslyAllowCrossSiteCookie?: boolean;
  /** Time source. Default the system clock. */
  clock?: Clock;
  /** Where rejections (debug) and dangerous settings (warn) are logged. Default `consoleLogger`. */
  logger?: Logger;
}

/** A token handed to a page or a client, with the headers (a `Set-Cookie`) that must accompany it. */
export interface IssuedToken {
  readonly token: string;
  readonly headers: HeaderList;
}

/** The CSRF guard, with helpers for rendering tokens outside the guard. */
export interface CsrfProtection {
  (view: RequestView): Outcome | Promise<Outcome>;
  /** Issues a fresh token for the request's session (minting the anonymous session when needed). */
  issue(view: RequestView): Promise<IssuedToken>;
  /** The header the token is read from. */
  readonly headerName: string;
  /** The form field the token is read from. */
  readonly fieldName: string;
  /** The token endpoint's path, when enabled. */
  readonly tokenPath: string | undefined;
}

const KNOWN = [
  "secrets",
  "mode",
  "trustedOrigins",
  "publicOrigins",
  "exemptPaths",
  "sessionId",
  "headerName",
  "fieldName",
  "maxFormBytes",
  "maxAgeSeconds",
  "tokenPath",
  "localsToken",
  "cookie",
  "dangerouslyAllowInsecureCookie",
  "dangerouslyAllowCrossSiteCookie",
  "clock",
  "logger",
] as const;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const TOKEN_CHARS = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DOCUMENT_DESTS = new Set(["document", "iframe", "frame"]);
const encoder = new TextEncoder();

const rejection = (code: keyof typeof ERROR_CODES, title: string): RespondOutcome =>
  Object.freeze(problem(403, code, title));
const ORIGIN_MISMATCH = rejection("ERR_CSRF_ORIGIN_MISMATCH", "Cross-origin request refused");
const TOKEN_MISSING = rejection("ERR_CSRF_TOKEN_MISSING", "CSRF token missing");
const TOKEN_INVALID = rejection("ERR_CSRF_TOKEN_INVALID", "CSRF token invalid");

function secretBytes(value: unknown): Uint8Array[] {
  const list = typeof value === "string" || value instanceof Uint8Array ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw configError(
      WHERE,
      `"secrets" must be a secret or a non-empty array of secrets, got ${describe(value)}`,
    );
  }
  return list.map((secret: unknown, i) => {
    const bytes =
      typeof secret === "string" ? encoder.encode(secret) : secret instanceof Uint8Array ? secret : undefined;
    if (bytes === undefined) throw configError(WHERE, `"secrets[${i}]" must be a string or Uint8Array`);
    if (bytes.length < 32) throw configError(WHERE, `"secrets[${i}]" must be at least 32 bytes`);
    return bytes.slice();
  });
}

function origins(key: string, value: unknown): Set<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw configError(WHERE, `"${key}" must be an array of origins`);
  return new Set(
    value.map((entry: unknown, i) => {
      if (typeof entry !== "string") throw configError(WHERE, `"${key}[${i}]" must be a string`);
      const check = checkOrigin(entry);
      if (!check.ok) throw configError(WHERE, `"${key}[${i}]" is not a valid origin: ${check.reason}`);
      return check.origin;
    }),
  );
}

function paths(value: unknown): Set<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw configError(WHERE, `"exemptPaths" must be an array of paths`);
  return new Set(
    value.map((entry: unknown, i) => {
      if (typeof entry !== "string" || !entry.startsWith("/") || /[?#*\s]/.test(entry)) {
        throw configError(WHERE, `"exemptPaths[${i}]" must be an exact path such as "/webhooks/stripe"`);
      }
      return entry;
    }),
  );
}

function headerToken(key: string, value: unknown, fallback: string): string {
  const name = string(WHERE, key, value, fallback);
  if (!TOKEN_CHARS.test(name)) throw configError(WHERE, `"${key}" must be a valid HTTP token`);
  return name;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === "function";
}

/**
 * CSRF protection as a Guard: Fetch Metadata (layer 1) and a signed, session-bound, masked token
 * (layer 2). Safe methods pass; unsafe ones are refused with 403 `ERR_CSRF_ORIGIN_MISMATCH`,
 * `ERR_CSRF_TOKEN_MISSING` or `ERR_CSRF_TOKEN_INVALID`. Serves the token endpoint and hands a token to
 * server-rendered pages as `locals.csrfToken`.
 */
export function csrf(options: CsrfOptions): CsrfProtection {
  const o = checkKeys(WHERE, options, KNOWN);
  const mode = oneOf(WHERE, "mode", o.mode, ["both", "origin", "token"] as const, "both");
  const checksOrigin = mode !== "token";
  const checksToken = mode !== "origin";
  const secrets = o.secrets === undefined && !checksToken ? undefined : secretBytes(o.secrets);
  const policy: OriginPolicy = {
    trusted: origins("trustedOrigins", o.trustedOrigins),
    publicOrigins: origins("publicOrigins", o.publicOrigins),
  };
  const exempt = paths(o.exemptPaths);
  const sessionIdOf = fn<(view: RequestView) => string | undefined | Promise<string | undefined>>(
    WHERE,
    "sessionId",
    o.sessionId,
    undefined,
  );
  const headerName = headerToken("headerName", o.headerName, "x-csrf-token").toLowerCase();
  const fieldName = headerToken("fieldName", o.fieldName, "_csrf");
  const maxFormBytes = integer(WHERE, "maxFormBytes", o.maxFormBytes, 1_048_576, { min: 1 });
  const maxAgeMs = integer(WHERE, "maxAgeSeconds", o.maxAgeSeconds, 86_400, { min: 1 }) * 1000;
  if (o.tokenPath !== undefined && o.tokenPath !== false) {
    const p = string(WHERE, "tokenPath", o.tokenPath, undefined);
    if (!p.startsWith("/") || /[?#*\s]/.test(p))
      throw configError(WHERE, `"tokenPath" must be an exact path`);
  }
  const tokenPath =
    checksToken && o.tokenPath !== false ? ((o.tokenPath as string) ?? "/csrf-token") : undefined;
  const localsToken = oneOf(
    WHERE,
    "localsToken",
    o.localsToken,
    ["documents", "always", "never"] as const,
    "documents",
  );
  const cookieOptions =
    o.cookie === undefined
      ? {}
      : checkKeys(`${WHERE}.cookie`, o.cookie, ["name", "sameSite", "maxAgeSeconds"]);
  const insecure = boolean(WHERE, "dangerouslyAllowInsecureCookie", o.dangerouslyAllowInsecureCookie, false);
  const crossSite = boolean(
    WHERE,
    "dangerouslyAllowCrossSiteCookie",
    o.dangerouslyAllowCrossSiteCookie,
    false,
  );
  const cookieName = headerToken("cookie.name", cookieOptions.name, "__Host-bulwark-csrf");
  if (!insecure && !cookieName.startsWith("__Host-")) {
    throw configError(
      WHERE,
      `"cookie.name" must start with "__Host-" (or set dangerouslyAllowInsecureCookie)`,
    );
  }
  const sameSite = oneOf(WHERE, "cookie.sameSite", cookieOptions.sameSite, ["lax", "strict"] as const, "lax");
  const cookieMaxAge =
    cookieOptions.maxAgeSeconds === undefined
      ? undefined
      : integer(WHERE, "cookie.maxAgeSeconds", cookieOptions.maxAgeSeconds, undefined, { min: 1 });
  if (crossSite && insecure) {
    throw configError(
      WHERE,
      "SameSite=None cookies must be Secure; do not combine the two dangerously… options",
    );
  }
  const cookieAttributes = {
    secure: !insecure,
    sameSite: crossSite ? ("None" as const) : sameSite === "strict" ? ("Strict" as const) : ("Lax" as const),
    maxAgeSeconds: cookieMaxAge,
  };
  const clock = (o.clock as Clock | undefined) ?? systemClock;
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;
  if (insecure)
    logger.warn({ capability: WHERE }, "dangerouslyAllowInsecureCookie: the CSRF cookie is not Secure");
  if (crossSite)
    logger.warn({ capability: WHERE }, "dangerouslyAllowCrossSiteCookie: the CSRF cookie is SameSite=None");

  const tokenKeys = secrets === undefined ? [] : deriveKeys(secrets, "bulwark/csrf/token/v1");
  const cookieKeys = secrets === undefined ? [] : deriveKeys(secrets, "bulwark/csrf/session/v1");

  const reject = (outcome: RespondOutcome, view: RequestView, reason: string): RespondOutcome => {
    logger.debug(
      { capability: WHERE, reason, method: view.method, path: view.path },
      "csrf: request refused",
    );
    return outcome;
  };

  // Verified anonymous cookies, so a returning visitor costs a Map lookup instead of an HMAC. Only
  // values that verified are stored; keys never change after construction; bounded by clearing.
  const verifiedCookies = new Map<string, string>();
  function anonymousId(view: RequestView): string | undefined {
    const value = readCookie(view.header("cookie"), cookieName);
    if (value === undefined) return undefined;
    const cached = verifiedCookies.get(value);
    if (cached !== undefined) return cached;
    const id = readSessionId(cookieKeys, value);
    if (id !== undefined) {
      if (verifiedCookies.size >= 4096) verifiedCookies.clear();
      verifiedCookies.set(value, id);
    }
    return id;
  }

  function checkedAppId(id: unknown): string | undefined {
    if (id === undefined) return undefined;
    if (typeof id !== "string" || id.length === 0) {
      throw configError(
        WHERE,
        `"sessionId" must return a non-empty string or undefined, got ${describe(id)}`,
      );
    }
    return id;
  }

  function withAppId<T>(view: RequestView, next: (appId: string | undefined) => T): T | Promise<T> {
    if (sessionIdOf === undefined) return next(undefined);
    const id = sessionIdOf(view);
    return isPromise(id) ? id.then((v) => next(checkedAppId(v))) : next(checkedAppId(id));
  }

  /** A token for the request's session; mints the anonymous session (and its cookie) when missing. */
  function mint(view: RequestView, appId: string | undefined): IssuedToken {
    if (appId !== undefined)
      return { token: issueToken(tokenKeys, `app:${appId}`, clock.now()), headers: [] };
    const existing = anonymousId(view);
    if (existing !== undefined) {
      return { token: issueToken(tokenKeys, `anon:${existing}`, clock.now()), headers: [] };
    }
    const id = newSessionId();
    return {
      token: issueToken(tokenKeys, `anon:${id}`, clock.now()),
      headers: [["set-cookie", serializeCookie(cookieName, signSessionId(cookieKeys, id), cookieAttributes)]],
    };
  }

  function wantsLocals(view: RequestView): boolean {
    if (localsToken === "never" || !checksToken) return false;
    if (localsToken === "always") return true;
    const dest = view.header("sec-fetch-dest");
    if (dest !== undefined && dest !== "") return DOCUMENT_DESTS.has(dest);
    return view.header("accept")?.includes("text/html") ?? false;
  }

  function continueWithToken(view: RequestView, appId: string | undefined): Outcome {
    const issued = mint(view, appId);
    return {
      action: "continue",
      headers: issued.headers,
      locals: { csrfToken: issued.token, csrfFieldName: fieldName, csrfHeaderName: headerName },
    };
  }

  function tokenResponse(view: RequestView, appId: string | undefined): Outcome {
    const issued = mint(view, appId);
    return {
      action: "respond",
      status: 200,
      headers: [
        ["content-type", "application/json"],
        ["cache-control", "no-store"],
        ["vary", "Cookie"],
        ...issued.headers,
      ],
      ...(view.method === "HEAD" ? {} : { body: JSON.stringify({ token: issued.token }) }),
    };
  }

  function afterToken(view: RequestView, appId: string | undefined, token: string): Outcome {
    let binding: string | undefined;
    if (appId !== undefined) binding = `app:${appId}`;
    else {
      const anon = anonymousId(view);
      binding = anon === undefined ? undefined : `anon:${anon}`;
    }
    if (binding === undefined) return reject(TOKEN_INVALID, view, "no-session");
    const check = verifyToken(tokenKeys, binding, token, clock.now(), maxAgeMs);
    if (!check.ok) return reject(TOKEN_INVALID, view, (check as { reason: TokenRejection }).reason);
    return wantsLocals(view) ? continueWithToken(view, appId) : CONTINUE;
  }

  function verifyBodyToken(view: RequestView): Outcome | Promise<Outcome> {
    const encoding = formEncoding(view.header("content-type"));
    if (encoding === undefined || view.rawBody === undefined) return reject(TOKEN_MISSING, view, "no-token");
    return view.rawBody(maxFormBytes).then((body) => {
      const token = readFormField(body, encoding, fieldName);
      if (token === undefined || token === "") return reject(TOKEN_MISSING, view, "no-token");
      return withAppId(view, (appId) => afterToken(view, appId, token));
    });
  }

  const guard = (view: RequestView): Outcome | Promise<Outcome> => {
    const method = view.method;
    if (SAFE_METHODS.has(method)) {
      if (tokenPath !== undefined && view.path === tokenPath && method !== "OPTIONS") {
        return withAppId(view, (appId) => tokenResponse(view, appId));
      }
      return wantsLocals(view) ? withAppId(view, (appId) => continueWithToken(view, appId)) : CONTINUE;
    }
    if (exempt.has(view.path)) return CONTINUE;
    if (checksOrigin && !originAllowed(view, policy)) return reject(ORIGIN_MISMATCH, view, "cross-origin");
    if (!checksToken) return CONTINUE;
    const token = view.header(headerName);
    if (token === undefined || token === "") return verifyBodyToken(view);
    if (sessionIdOf === undefined) return afterToken(view, undefined, token);
    return withAppId(view, (appId) => afterToken(view, appId, token));
  };

  const issue = async (view: RequestView): Promise<IssuedToken> => {
    if (!checksToken) throw configError(WHERE, 'tokens are not issued in mode "origin"');
    return withAppId(view, (appId) => mint(view, appId));
  };

  return Object.assign(guard, { issue, headerName, fieldName, tokenPath });
}
