import { configError, didYouMean } from "../core/options.js";
import { cspHash } from "./nonce.js";

/**
 * Content-Security-Policy compilation. A policy is validated and serialized once; the only per-response
 * work is joining the precomputed parts with a fresh nonce.
 */

/** Directive values: a list of sources, `true` (or `[]`) for a valueless directive, `null` to drop a default. */
export type CspDirectives = Readonly<Record<string, readonly string[] | string | true | null>>;

/** How one policy is built. Every field is optional; see {@link CspOptions} for defaults. */
export interface CspPolicyOptions {
  /** Directives merged over the defaults (camelCase or kebab-case names). */
  directives?: CspDirectives;
  /** Start from bulwark's default directives (helmet 8's set). Default true. */
  useDefaults?: boolean;
  /** Add a fresh per-response `'nonce-…'` to `script-src` (exposed as `locals.cspNonce`). Default true. */
  nonce?: boolean;
  /**
   * Also add the nonce to `style-src`. Default false: the default `style-src` keeps `'unsafe-inline'`
   * for compatibility, and browsers ignore `'unsafe-inline'` once a nonce is present.
   */
  styleNonce?: boolean;
  /** Add `'strict-dynamic'` to `script-src` (scripts loaded by nonced scripts are trusted). Default false. */
  strictDynamic?: boolean;
  /** Exact text of known inline scripts and styles, hashed (SHA-256) into `script-src` / `style-src`. */
  hashes?: { scripts?: readonly string[]; styles?: readonly string[] };
  /** Send `Content-Security-Policy-Report-Only` instead of enforcing. Default false. */
  reportOnly?: boolean;
  /**
   * Where browsers send violation reports (absolute URL or path): adds `report-to csp-endpoint`,
   * `report-uri` (for browsers without the Reporting API) and a `Reporting-Endpoints` entry.
   */
  reportUrl?: string;
}

/** Options of the CSP part of `secureHeaders`. */
export interface CspOptions extends CspPolicyOptions {
  /**
   * Per-route overrides, keyed by exact path (`"/embed"`) or prefix (`"/docs/*"` matches `/docs/…`).
   * Each is merged over this policy (directives key by key); `false` sends no CSP on that route.
   */
  routes?: Readonly<Record<string, CspPolicyOptions | false>>;
}

/** A compiled policy: header name, value parts to join with the nonce, and its reporting endpoint. */
export interface CompiledCsp {
  readonly headerName: "content-security-policy" | "content-security-policy-report-only";
  /** The header value split where the nonce goes; a single part when the policy has no nonce. */
  readonly parts: readonly string[];
  readonly reportingEndpoint: string | undefined;
}

/** The group name used in `report-to` and `Reporting-Endpoints`. */
export const CSP_REPORT_GROUP = "csp-endpoint";

/** helmet 8's default directives, in helmet's order. */
export const DEFAULT_DIRECTIVES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  "default-src": ["'self'"],
  "base-uri": ["'self'"],
  "font-src": ["'self'", "https:", "data:"],
  "form-action": ["'self'"],
  "frame-ancestors": ["'self'"],
  "img-src": ["'self'", "data:"],
  "object-src": ["'none'"],
  "script-src": ["'self'"],
  "script-src-attr": ["'none'"],
  "style-src": ["'self'", "https:", "'unsafe-inline'"],
  "upgrade-insecure-requests": [],
});

const KNOWN_DIRECTIVES = [
  "base-uri",
  "block-all-mixed-content",
  "child-src",
  "connect-src",
  "default-src",
  "fenced-frame-src",
  "font-src",
  "form-action",
  "frame-ancestors",
  "frame-src",
  "img-src",
  "manifest-src",
  "media-src",
  "object-src",
  "report-to",
  "report-uri",
  "require-trusted-types-for",
  "sandbox",
  "script-src",
  "script-src-attr",
  "script-src-elem",
  "style-src",
  "style-src-attr",
  "style-src-elem",
  "trusted-types",
  "upgrade-insecure-requests",
  "worker-src",
];

const KEYWORDS = new Set([
  "self",
  "none",
  "strict-dynamic",
  "report-sample",
  "inline-speculation-rules",
  "unsafe-inline",
  "unsafe-eval",
  "unsafe-hashes",
  "wasm-unsafe-eval",
]);
const NONCE_SLOT = "\u0000";

const fail = (message: string): never => {
  throw configError("secureHeaders.contentSecurityPolicy", message);
};

const dashify = (raw: string): string => raw.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function directiveName(raw: string): string {
  const name = dashify(raw);
  if (!KNOWN_DIRECTIVES.includes(name)) {
    const hint = didYouMean(name, KNOWN_DIRECTIVES);
    fail(`unknown directive "${raw}"${hint ? ` — did you mean "${hint}"?` : ""}`);
  }
  return name;
}

function checkSource(name: string, source: unknown): string {
  if (typeof source !== "string" || source.length === 0)
    return fail(`"${name}" sources must be non-empty strings`);
  if (!/^[!-~]+$/.test(source) || /[;,]/.test(source)) {
    return fail(
      `"${name}" source "${source}" must be printable ASCII without spaces, ";" or "," (one source each)`,
    );
  }
  const bare = source.toLowerCase();
  if (KEYWORDS.has(bare) || /^(nonce|sha256|sha384|sha512)-/.test(bare)) {
    return fail(`"${name}" source ${source} must be quoted: "'${source}'"`);
  }
  if (bare.startsWith("'nonce-"))
    return fail(`"${name}" has a fixed nonce; use the nonce option for a fresh one`);
  return source;
}

function sources(name: string, value: unknown): string[] {
  if (value === true) return [];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list)) return fail(`"${name}" must be an array of sources, true or null`);
  const out = list.map((s) => checkSource(name, s));
  if (out.includes("'none'") && out.length > 1) fail(`"${name}" combines 'none' with other sources`);
  return out;
}

function checkReportUrl(url: unknown): string {
  if (typeof url !== "string" || !/^(https?:\/\/[^\s"';,]+|\/[^\s"';,]*)$/.test(url)) {
    return fail('"reportUrl" must be an absolute http(s) URL or a path starting with "/"');
  }
  return url;
}

const POLICY_KEYS = [
  "directives",
  "useDefaults",
  "nonce",
  "styleNonce",
  "strictDynamic",
  "hashes",
  "reportOnly",
  "reportUrl",
];
export const CSP_KEYS = [...POLICY_KEYS, "routes"];

function checkPolicyKeys(where: string, value: object): void {
  for (const key of Object.keys(value)) {
    if (!POLICY_KEYS.includes(key)) {
      const hint = didYouMean(key, POLICY_KEYS);
      fail(`${where}: unknown option "${key}"${hint ? ` — did you mean "${hint}"?` : ""}`);
    }
  }
}

function flag(where: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") return fail(`"${where}" must be a boolean`);
  return value;
}

/** Adds `extra` sources to `name`, creating it from `default-src` when absent. */
function extend(directives: Map<string, string[]>, name: string, extra: readonly string[]): void {
  let list = directives.get(name);
  if (list === undefined) {
    list = [...(directives.get("default-src") ?? [])].filter((s) => s !== "'none'");
    directives.set(name, list);
  } else if (list.length === 1 && list[0] === "'none'") {
    fail(`"${name}" is 'none' but the nonce, hashes or 'strict-dynamic' would add sources to it`);
  }
  for (const s of extra) if (!list.includes(s)) list.push(s);
}

/** Validates and serializes one policy. Throws `ERR_CONFIG_INVALID` with a precise message. */
export function compileCsp(options: CspPolicyOptions): CompiledCsp {
  checkPolicyKeys("contentSecurityPolicy", options);
  const useDefaults = flag("useDefaults", options.useDefaults, true);
  const useNonce = flag("nonce", options.nonce, true);
  const styleNonce = flag("styleNonce", options.styleNonce, false);
  const strictDynamic = flag("strictDynamic", options.strictDynamic, false);
  const reportOnly = flag("reportOnly", options.reportOnly, false);

  const directives = new Map<string, string[]>();
  if (useDefaults) for (const [k, v] of Object.entries(DEFAULT_DIRECTIVES)) directives.set(k, [...v]);
  const seen = new Set<string>();
  const given = options.directives ?? {};
  if (typeof given !== "object" || given === null || Array.isArray(given))
    fail('"directives" must be an object');
  for (const [raw, value] of Object.entries(given)) {
    const name = directiveName(raw);
    if (seen.has(name)) fail(`directive "${name}" is given twice`);
    seen.add(name);
    if (value === null) {
      if (name === "default-src") fail('"default-src" cannot be removed; every policy needs a fallback');
      directives.delete(name);
    } else {
      directives.set(name, sources(name, value));
    }
  }
  if (!directives.has("default-src")) fail('the policy needs a "default-src"');

  const hashes = options.hashes ?? {};
  if (typeof hashes !== "object" || hashes === null) fail('"hashes" must be { scripts?, styles? }');
  const hashList = (key: "scripts" | "styles"): string[] => {
    const list = (hashes as Record<string, unknown>)[key] ?? [];
    if (!Array.isArray(list) || list.some((s) => typeof s !== "string")) {
      return fail(`"hashes.${key}" must be an array of inline ${key.slice(0, -1)} texts`);
    }
    return list.map((s: string) => cspHash(s));
  };
  const scriptHashes = hashList("scripts");
  const styleHashes = hashList("styles");
  if (strictDynamic && !useNonce && scriptHashes.length === 0) {
    fail("'strict-dynamic' needs the nonce or a script hash, otherwise no script can ever run");
  }

  const scriptExtra = [...(useNonce ? [`'nonce-${NONCE_SLOT}'`] : []), ...scriptHashes];
  if (strictDynamic) scriptExtra.push("'strict-dynamic'");
  if (scriptExtra.length > 0) {
    extend(directives, "script-src", scriptExtra);
    if (directives.has("script-src-elem")) extend(directives, "script-src-elem", scriptExtra);
  }
  const styleExtra = [...(styleNonce ? [`'nonce-${NONCE_SLOT}'`] : []), ...styleHashes];
  if (styleExtra.length > 0) {
    extend(directives, "style-src", styleExtra);
    if (directives.has("style-src-elem")) extend(directives, "style-src-elem", styleExtra);
  }

  let reportingEndpoint: string | undefined;
  if (options.reportUrl !== undefined) {
    reportingEndpoint = checkReportUrl(options.reportUrl);
    directives.set("report-uri", [reportingEndpoint]);
    directives.set("report-to", [CSP_REPORT_GROUP]);
  }

  const value = [...directives]
    .map(([name, list]) => (list.length ? `${name} ${list.join(" ")}` : name))
    .join("; ");
  return {
    headerName: reportOnly ? "content-security-policy-report-only" : "content-security-policy",
    parts: value.split(NONCE_SLOT),
    reportingEndpoint,
  };
}

/** Merges a route's override over the base policy: options replaced, directives merged key by key. */
export function mergePolicy(base: CspPolicyOptions, override: CspPolicyOptions): CspPolicyOptions {
  checkPolicyKeys("contentSecurityPolicy.routes", override);
  const directives: Record<string, readonly string[] | string | true | null> = {};
  for (const [k, v] of Object.entries(base.directives ?? {})) directives[dashify(k)] = v;
  for (const [k, v] of Object.entries(override.directives ?? {})) directives[dashify(k)] = v;
  return { ...base, ...override, directives };
}
