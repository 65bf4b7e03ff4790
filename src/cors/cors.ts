import { boolean, checkKeys, configError, integer } from "../core/options.js";
import type { ContinueOutcome, Guard, HeaderList, Outcome, RespondOutcome } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import type { RequestView } from "../core/request.js";
import { compileOrigins, type OriginPattern } from "./origins.js";

const WHERE = "cors";

/** Options of {@link cors}. */
export interface CorsOptions {
  /**
   * Origins allowed to read responses: exact origins (`"https://app.example.com"`), one-label
   * wildcard subdomains (`"https://*.example.com"`, never `example.com` itself), anchored RegExps,
   * or `"*"` (without credentials only). Required.
   */
  origins: OriginPattern | readonly OriginPattern[];
  /** Allow cookies / HTTP auth on cross-origin requests (`Access-Control-Allow-Credentials`). Default false. */
  credentials?: boolean;
  /** Methods a preflight may ask for. Default GET, HEAD, POST, PUT, PATCH, DELETE. */
  methods?: readonly string[];
  /**
   * Request headers a preflight may ask for; never echoed from the request. Default `content-type`,
   * `x-csrf-token`, `idempotency-key`.
   */
  allowedHeaders?: readonly string[];
  /** Response headers scripts may read. Default `RateLimit`, `RateLimit-Policy`, `Retry-After`. */
  exposedHeaders?: readonly string[];
  /** How long browsers cache a preflight (`Access-Control-Max-Age`). Default 600 (Chromium caps at 7200). */
  maxAgeSeconds?: number;
  /**
   * Answer Private Network Access preflights (`Access-Control-Allow-Private-Network: true`) so public
   * sites may call this server on a private network. Default false.
   */
  allowPrivateNetwork?: boolean;
}

const KNOWN = [
  "origins",
  "credentials",
  "methods",
  "allowedHeaders",
  "exposedHeaders",
  "maxAgeSeconds",
  "allowPrivateNetwork",
] as const;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function tokens(key: string, value: unknown, fallback: readonly string[]): string[] {
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value)) throw configError(WHERE, `"${key}" must be an array of names`);
  return value.map((entry: unknown) => {
    if (typeof entry !== "string" || !TOKEN.test(entry)) {
      throw configError(WHERE, `"${key}" entries must be HTTP tokens, got ${JSON.stringify(entry)}`);
    }
    if (entry === "*") throw configError(WHERE, `"${key}" must list names; "*" is not allowed`);
    return entry;
  });
}

const VARY: readonly [string, string] = Object.freeze(["vary", "Origin"] as const);
const ONLY_VARY: ContinueOutcome = Object.freeze({ action: "continue", headers: Object.freeze([VARY]) });
const REFUSED: RespondOutcome = Object.freeze(
  problem(403, "ERR_CORS_PREFLIGHT_REJECTED", "CORS preflight refused", [VARY]),
);

/**
 * Strict CORS as a Guard. Allowed cross-origin requests get `Access-Control-Allow-Origin` (the exact
 * origin, or `*`), credentials and exposed headers; every response gets `Vary: Origin`. A preflight
 * for an allowed origin, method and headers is answered 204; any other preflight 403
 * (`ERR_CORS_PREFLIGHT_REJECTED`) without CORS headers.
 */
export function cors(options: CorsOptions): Guard {
  const o = checkKeys(WHERE, options, KNOWN);
  const credentials = boolean(WHERE, "credentials", o.credentials, false);
  const origins = compileOrigins(o.origins, credentials);
  const methods = tokens("methods", o.methods, ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]);
  for (const m of methods) {
    if (m !== m.toUpperCase()) throw configError(WHERE, `"methods" must be upper-case, got "${m}"`);
  }
  const allowedHeaders = tokens("allowedHeaders", o.allowedHeaders, [
    "content-type",
    "x-csrf-token",
    "idempotency-key",
  ]);
  const exposedHeaders = tokens("exposedHeaders", o.exposedHeaders, [
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
  ]);
  const maxAgeSeconds = integer(WHERE, "maxAgeSeconds", o.maxAgeSeconds, 600, { min: 0, max: 86_400 });
  const privateNetwork = boolean(WHERE, "allowPrivateNetwork", o.allowPrivateNetwork, false);

  const methodSet = new Set(methods);
  const headerSet = new Set(allowedHeaders.map((h) => h.toLowerCase()));

  const common: Array<readonly [string, string]> = [];
  if (credentials) common.push(["access-control-allow-credentials", "true"]);
  // Copied into each allowed response's list; not frozen, as V8 reads frozen arrays slowly.
  const actualTail: HeaderList = [
    ...common,
    ...(exposedHeaders.length ? [["access-control-expose-headers", exposedHeaders.join(", ")] as const] : []),
    ["vary", "Origin"],
  ];
  const preflightTail: HeaderList = Object.freeze([
    ...common,
    ["access-control-allow-methods", methods.join(", ")],
    ...(allowedHeaders.length ? [["access-control-allow-headers", allowedHeaders.join(", ")] as const] : []),
    ["access-control-max-age", String(maxAgeSeconds)],
    VARY,
    ["content-length", "0"],
  ]);
  const privateNetworkHeader = ["access-control-allow-private-network", "true"] as const;

  // With "*" the allow-origin value never changes, so whole outcomes are precomputed.
  const anyActual: ContinueOutcome | undefined = origins.any
    ? Object.freeze({
        action: "continue",
        headers: Object.freeze(
          [["access-control-allow-origin", "*"] as const, ...actualTail].map(([n, v]) =>
            Object.freeze([n, v] as const),
          ),
        ),
      })
    : undefined;

  function requestedHeadersAllowed(list: string | undefined): boolean {
    if (list === undefined) return true;
    for (const raw of list.split(",")) {
      const name = raw.trim().toLowerCase();
      if (name !== "" && !headerSet.has(name)) return false;
    }
    return true;
  }

  function preflight(view: RequestView, origin: string, method: string): Outcome {
    if (!origins.match(origin) || !methodSet.has(method)) return REFUSED;
    if (!requestedHeadersAllowed(view.header("access-control-request-headers"))) return REFUSED;
    const wantsPrivateNetwork = view.header("access-control-request-private-network") === "true";
    if (wantsPrivateNetwork && !privateNetwork) return REFUSED;
    const headers: Array<readonly [string, string]> = [
      ["access-control-allow-origin", origins.any ? "*" : origin],
      ...preflightTail,
    ];
    if (wantsPrivateNetwork) headers.push(privateNetworkHeader);
    return { action: "respond", status: 204, headers };
  }

  return (view: RequestView): Outcome => {
    const origin = view.header("origin");
    if (origin === undefined) return ONLY_VARY;
    if (view.method === "OPTIONS") {
      const method = view.header("access-control-request-method");
      if (method !== undefined) return preflight(view, origin, method);
    }
    if (anyActual !== undefined) return anyActual;
    if (!origins.match(origin)) return ONLY_VARY;
    const headers: Array<readonly [string, string]> = [["access-control-allow-origin", origin]];
    for (let i = 0; i < actualTail.length; i++) headers.push(actualTail[i] as readonly [string, string]);
    return { action: "continue", headers };
  };
}
