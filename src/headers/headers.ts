import { consoleLogger, type Logger } from "../core/logger.js";
import { boolean, checkKeys, configError, integer, oneOf } from "../core/options.js";
import type { ContinueOutcome, Guard, HeaderList } from "../core/outcome.js";
import type { RequestView } from "../core/request.js";
import {
  type CompiledCsp,
  CSP_KEYS,
  CSP_REPORT_GROUP,
  type CspOptions,
  compileCsp,
  mergePolicy,
} from "./csp.js";
import { cspNonce } from "./nonce.js";
import { compilePermissionsPolicy, type PermissionsPolicy } from "./permissions-policy.js";

const WHERE = "secureHeaders";

type ReferrerPolicyToken =
  | "no-referrer"
  | "no-referrer-when-downgrade"
  | "same-origin"
  | "origin"
  | "strict-origin"
  | "origin-when-cross-origin"
  | "strict-origin-when-cross-origin"
  | "unsafe-url";

/** Options of {@link secureHeaders}. Every header can be tuned, or turned off with `false` (logged once). */
export interface SecureHeadersOptions {
  /** Content-Security-Policy with a per-response nonce. Default: helmet 8's directives + `'nonce-…'` in `script-src`. */
  contentSecurityPolicy?: CspOptions | false;
  /** Cross-Origin-Opener-Policy. Default `"same-origin"`. */
  crossOriginOpenerPolicy?:
    | "same-origin"
    | "same-origin-allow-popups"
    | "noopener-allow-popups"
    | "unsafe-none"
    | false;
  /** Cross-Origin-Resource-Policy. Default `"same-origin"`. */
  crossOriginResourcePolicy?: "same-origin" | "same-site" | "cross-origin" | false;
  /** Cross-Origin-Embedder-Policy. Default off (as helmet): it breaks cross-origin embeds without CORP. */
  crossOriginEmbedderPolicy?: "require-corp" | "credentialless" | "unsafe-none" | false;
  /** `Origin-Agent-Cluster: ?1`. Default true. */
  originAgentCluster?: boolean;
  /** Referrer-Policy token(s). Default `"no-referrer"`. */
  referrerPolicy?: ReferrerPolicyToken | readonly ReferrerPolicyToken[] | false;
  /**
   * Strict-Transport-Security. Default one year with `includeSubDomains`, no `preload`; `preload`
   * requires at least a year and `includeSubDomains` (the preload list's own rules).
   */
  strictTransportSecurity?:
    | { maxAgeSeconds?: number; includeSubDomains?: boolean; preload?: boolean }
    | false;
  /** `X-Content-Type-Options: nosniff`. Default true. */
  xContentTypeOptions?: boolean;
  /** X-DNS-Prefetch-Control. Default `"off"`. */
  xDnsPrefetchControl?: "off" | "on" | false;
  /** `X-Download-Options: noopen`. Default true. */
  xDownloadOptions?: boolean;
  /** X-Frame-Options (for browsers without `frame-ancestors`). Default `"SAMEORIGIN"`. */
  xFrameOptions?: "DENY" | "SAMEORIGIN" | false;
  /** X-Permitted-Cross-Domain-Policies. Default `"none"`. */
  xPermittedCrossDomainPolicies?: "none" | "master-only" | "by-content-type" | "all" | false;
  /** `X-XSS-Protection: 0` (turns off the legacy, exploitable XSS auditor). Default true. */
  xXssProtection?: boolean;
  /** Remove `X-Powered-By`. Default true. */
  removePoweredBy?: boolean;
  /**
   * Permissions-Policy, merged over a restrictive default (sensors, camera, microphone, payment, …
   * off; `null` drops a feature from the header). Default: the restrictive default.
   */
  permissionsPolicy?: PermissionsPolicy | false;
  /** Extra `Reporting-Endpoints` entries (name → URL), e.g. for your own `report-to` directives. */
  reportingEndpoints?: Readonly<Record<string, string>>;
  /** Where turned-off headers are reported (once, warn). Default `consoleLogger`. */
  logger?: Logger;
}

const KNOWN = [
  "contentSecurityPolicy",
  "crossOriginOpenerPolicy",
  "crossOriginResourcePolicy",
  "crossOriginEmbedderPolicy",
  "originAgentCluster",
  "referrerPolicy",
  "strictTransportSecurity",
  "xContentTypeOptions",
  "xDnsPrefetchControl",
  "xDownloadOptions",
  "xFrameOptions",
  "xPermittedCrossDomainPolicies",
  "xXssProtection",
  "removePoweredBy",
  "permissionsPolicy",
  "reportingEndpoints",
  "logger",
] as const;

const REFERRER_TOKENS = [
  "no-referrer",
  "no-referrer-when-downgrade",
  "same-origin",
  "origin",
  "strict-origin",
  "origin-when-cross-origin",
  "strict-origin-when-cross-origin",
  "unsafe-url",
] as const;
const ONE_YEAR_SECONDS = 31_536_000;
const ENDPOINT_NAME = /^[a-z*][a-z0-9_.*-]*$/;
const ENDPOINT_URL = /^(https?:\/\/[^\s"\\,;]+|\/[^\s"\\,;]*)$/;

function hsts(value: unknown): string {
  const o = checkKeys(`${WHERE}.strictTransportSecurity`, value, [
    "maxAgeSeconds",
    "includeSubDomains",
    "preload",
  ]);
  const maxAge = integer(WHERE, "strictTransportSecurity.maxAgeSeconds", o.maxAgeSeconds, ONE_YEAR_SECONDS, {
    min: 0,
  });
  const sub = boolean(WHERE, "strictTransportSecurity.includeSubDomains", o.includeSubDomains, true);
  const preload = boolean(WHERE, "strictTransportSecurity.preload", o.preload, false);
  if (preload && (maxAge < ONE_YEAR_SECONDS || !sub)) {
    throw configError(
      WHERE,
      '"strictTransportSecurity.preload" requires maxAgeSeconds ≥ 31536000 and includeSubDomains (preload list rules)',
    );
  }
  return `max-age=${maxAge}${sub ? "; includeSubDomains" : ""}${preload ? "; preload" : ""}`;
}

function referrer(value: unknown): string {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw configError(WHERE, '"referrerPolicy" must be a policy token or a non-empty array of them');
  }
  const seen = new Set<string>();
  for (const token of list) {
    oneOf(WHERE, "referrerPolicy", token, REFERRER_TOKENS, undefined);
    if (seen.has(token)) throw configError(WHERE, `"referrerPolicy" repeats "${token}"`);
    seen.add(token);
  }
  return list.join(", ");
}

function endpoints(value: unknown): Array<[string, string]> {
  if (value === undefined) return [];
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw configError(WHERE, '"reportingEndpoints" must be an object of name → URL');
  }
  return Object.entries(value).map(([name, url]) => {
    if (!ENDPOINT_NAME.test(name))
      throw configError(WHERE, `reporting endpoint name "${name}" must be lower-case`);
    if (typeof url !== "string" || !ENDPOINT_URL.test(url)) {
      throw configError(WHERE, `reporting endpoint "${name}" must be an absolute http(s) URL or a path`);
    }
    return [name, url];
  });
}

/** One precomputed response variant (the base policy, or one route's override). */
interface Variant {
  /** Ready to return when there is no nonce: the same frozen object every time. */
  readonly fixed: ContinueOutcome | undefined;
  /**
   * The headers besides a nonced CSP, copied into each response's list. Not frozen: V8 reads frozen
   * arrays through a slow path on every response; they never leave this module except inside
   * outcomes, typed read-only.
   */
  readonly headers: HeaderList;
  readonly cspName: string;
  readonly cspParts: readonly string[];
}

/**
 * Secure response headers as a Guard: at least helmet 8's defaults, a CSP with a fresh 128-bit nonce
 * per response (`locals.cspNonce`), a restrictive Permissions-Policy, and `X-Powered-By` removed.
 * Everything is computed at construction; a response costs one nonce and one string join.
 */
export function secureHeaders(options: SecureHeadersOptions = {}): Guard {
  const o = checkKeys(WHERE, options, KNOWN);
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;
  const disabled: string[] = [];
  const off = (key: string, value: unknown): boolean => {
    if (value !== false) return false;
    disabled.push(key);
    return true;
  };

  const fixed: Array<[string, string]> = [];
  const coep = o.crossOriginEmbedderPolicy;
  if (coep !== undefined && coep !== false) {
    fixed.push([
      "cross-origin-embedder-policy",
      oneOf(
        WHERE,
        "crossOriginEmbedderPolicy",
        coep,
        ["require-corp", "credentialless", "unsafe-none"] as const,
        undefined,
      ),
    ]);
  }
  if (!off("crossOriginOpenerPolicy", o.crossOriginOpenerPolicy)) {
    const values = [
      "same-origin",
      "same-origin-allow-popups",
      "noopener-allow-popups",
      "unsafe-none",
    ] as const;
    fixed.push([
      "cross-origin-opener-policy",
      oneOf(WHERE, "crossOriginOpenerPolicy", o.crossOriginOpenerPolicy, values, "same-origin"),
    ]);
  }
  if (!off("crossOriginResourcePolicy", o.crossOriginResourcePolicy)) {
    const values = ["same-origin", "same-site", "cross-origin"] as const;
    fixed.push([
      "cross-origin-resource-policy",
      oneOf(WHERE, "crossOriginResourcePolicy", o.crossOriginResourcePolicy, values, "same-origin"),
    ]);
  }
  if (!off("originAgentCluster", o.originAgentCluster)) {
    boolean(WHERE, "originAgentCluster", o.originAgentCluster, true);
    fixed.push(["origin-agent-cluster", "?1"]);
  }
  if (!off("referrerPolicy", o.referrerPolicy)) {
    fixed.push(["referrer-policy", referrer(o.referrerPolicy ?? "no-referrer")]);
  }
  if (!off("strictTransportSecurity", o.strictTransportSecurity)) {
    fixed.push(["strict-transport-security", hsts(o.strictTransportSecurity ?? {})]);
  }
  if (!off("xContentTypeOptions", o.xContentTypeOptions)) {
    boolean(WHERE, "xContentTypeOptions", o.xContentTypeOptions, true);
    fixed.push(["x-content-type-options", "nosniff"]);
  }
  if (!off("xDnsPrefetchControl", o.xDnsPrefetchControl)) {
    fixed.push([
      "x-dns-prefetch-control",
      oneOf(WHERE, "xDnsPrefetchControl", o.xDnsPrefetchControl, ["off", "on"] as const, "off"),
    ]);
  }
  if (!off("xDownloadOptions", o.xDownloadOptions)) {
    boolean(WHERE, "xDownloadOptions", o.xDownloadOptions, true);
    fixed.push(["x-download-options", "noopen"]);
  }
  if (!off("xFrameOptions", o.xFrameOptions)) {
    fixed.push([
      "x-frame-options",
      oneOf(WHERE, "xFrameOptions", o.xFrameOptions, ["DENY", "SAMEORIGIN"] as const, "SAMEORIGIN"),
    ]);
  }
  if (!off("xPermittedCrossDomainPolicies", o.xPermittedCrossDomainPolicies)) {
    const values = ["none", "master-only", "by-content-type", "all"] as const;
    fixed.push([
      "x-permitted-cross-domain-policies",
      oneOf(WHERE, "xPermittedCrossDomainPolicies", o.xPermittedCrossDomainPolicies, values, "none"),
    ]);
  }
  if (!off("xXssProtection", o.xXssProtection)) {
    boolean(WHERE, "xXssProtection", o.xXssProtection, true);
    fixed.push(["x-xss-protection", "0"]);
  }
  if (!off("permissionsPolicy", o.permissionsPolicy)) {
    fixed.push([
      "permissions-policy",
      compilePermissionsPolicy((o.permissionsPolicy as PermissionsPolicy) ?? {}),
    ]);
  }
  const removeHeaders: readonly string[] | undefined =
    off("removePoweredBy", o.removePoweredBy) || !boolean(WHERE, "removePoweredBy", o.removePoweredBy, true)
      ? undefined
      : Object.freeze(["x-powered-by"]);
  const extraEndpoints = endpoints(o.reportingEndpoints);

  const variant = (csp: CompiledCsp | undefined): Variant => {
    const headers: Array<readonly [string, string]> = [...fixed];
    const reporting = [...extraEndpoints];
    if (csp?.reportingEndpoint !== undefined) reporting.unshift([CSP_REPORT_GROUP, csp.reportingEndpoint]);
    if (reporting.length > 0) {
      headers.push(["reporting-endpoints", reporting.map(([n, u]) => `${n}="${u}"`).join(", ")]);
    }
    if (csp !== undefined && csp.parts.length === 1)
      headers.unshift([csp.headerName, csp.parts[0] as string]);
    const nonced = csp !== undefined && csp.parts.length > 1;
    return {
      fixed: nonced
        ? undefined
        : Object.freeze({
            action: "continue" as const,
            headers: Object.freeze(headers.map((h) => Object.freeze([h[0], h[1]] as const))),
            ...(removeHeaders ? { removeHeaders } : {}),
          }),
      headers,
      cspName: csp?.headerName ?? "",
      cspParts: csp?.parts ?? [],
    };
  };

  let base: Variant;
  const exact = new Map<string, Variant>();
  const prefixes: Array<[string, Variant]> = [];
  const cspOption = o.contentSecurityPolicy;
  if (off("contentSecurityPolicy", cspOption)) {
    base = variant(undefined);
  } else {
    const cspOptions = checkKeys(`${WHERE}.contentSecurityPolicy`, cspOption ?? {}, CSP_KEYS) as CspOptions;
    const { routes, ...policy } = cspOptions;
    base = variant(compileCsp(policy));
    if (routes !== undefined) {
      if (typeof routes !== "object" || routes === null || Array.isArray(routes)) {
        throw configError(WHERE, '"contentSecurityPolicy.routes" must be an object of path → policy');
      }
      for (const [route, override] of Object.entries(routes)) {
        const wildcard = route.endsWith("/*");
        const path = wildcard ? route.slice(0, -1) : route;
        if (!path.startsWith("/") || /[*?#\s]/.test(path)) {
          throw configError(WHERE, `CSP route "${route}" must be an exact path or a prefix ending in "/*"`);
        }
        const v =
          override === false ? variant(undefined) : variant(compileCsp(mergePolicy(policy, override)));
        if (wildcard) prefixes.push([path, v]);
        else exact.set(path, v);
      }
      prefixes.sort((a, b) => b[0].length - a[0].length);
    }
  }
  if (disabled.length > 0) {
    logger.warn({ capability: WHERE, disabled }, `secure headers turned off: ${disabled.join(", ")}`);
  }

  const choose = (path: string): Variant => {
    const hit = exact.get(path);
    if (hit !== undefined) return hit;
    for (const [prefix, v] of prefixes) if (path.startsWith(prefix)) return v;
    return base;
  };
  const hasRoutes = exact.size > 0 || prefixes.length > 0;

  return (view: RequestView): ContinueOutcome => {
    const v = hasRoutes ? choose(view.path) : base;
    if (v.fixed !== undefined) return v.fixed;
    const nonce = cspNonce();
    const headers: Array<readonly [string, string]> = [[v.cspName, v.cspParts.join(nonce)]];
    const fixedHeaders = v.headers;
    for (let i = 0; i < fixedHeaders.length; i++) headers.push(fixedHeaders[i] as readonly [string, string]);
    return { action: "continue", headers, removeHeaders, locals: { cspNonce: nonce } };
  };
}
