import { configError } from "../core/options.js";
import { checkOrigin } from "../core/origin.js";

/**
 * CORS origin allowlists, compiled once into the cheapest matcher: a Set lookup for exact origins,
 * a prefix/suffix/one-label check for wildcard subdomains, and anchored regular expressions last.
 */

/** One allowlist entry: an exact origin, `"https://*.example.com"`, `"*"`, or an anchored RegExp. */
export type OriginPattern = string | RegExp;

export interface CompiledOrigins {
  /** True when every origin is allowed (`"*"`). */
  readonly any: boolean;
  /** True when `origin` (an `Origin` header value) is allowed. */
  match(origin: string): boolean;
}

const WHERE = "cors";
/** One DNS label: letters, digits and inner hyphens, at most 63 characters, lower-case as browsers send. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const WILDCARD = /^(https?):\/\/\*\.(.+)$/;

interface Wildcard {
  readonly prefix: string;
  readonly suffix: string;
}

function wildcard(entry: string, scheme: string, rest: string): Wildcard {
  const check = checkOrigin(`${scheme}://${rest}`);
  if (!check.ok || rest.includes("*")) {
    throw configError(WHERE, `wildcard origin "${entry}" must look like "https://*.example.com[:port]"`);
  }
  const hostPort = check.origin.slice(scheme.length + 3);
  const host = hostPort.startsWith("[") ? hostPort : (hostPort.split(":")[0] as string);
  if (host.startsWith("[") || /^[\d.]+$/.test(host)) {
    throw configError(WHERE, `wildcard origin "${entry}" must be under a domain name, not an IP address`);
  }
  if (host.split(".").length < 2) {
    throw configError(
      WHERE,
      `wildcard origin "${entry}" is too broad: name a registrable domain such as example.com`,
    );
  }
  return { prefix: `${scheme}://`, suffix: `.${hostPort}` };
}

function matchesWildcard(w: Wildcard, origin: string): boolean {
  return (
    origin.length > w.prefix.length + w.suffix.length &&
    origin.startsWith(w.prefix) &&
    origin.endsWith(w.suffix) &&
    LABEL.test(origin.slice(w.prefix.length, origin.length - w.suffix.length))
  );
}

/**
 * Refuses regular expressions that can match more than the author meant: not anchored at both ends,
 * a top-level alternation (`^a|b$` anchors only one branch each), an unescaped `.` (matches any
 * character, so `^https://app.example.com$` admits `https://appXexample.com`), or stateful flags.
 */
function checkRegExp(re: RegExp): RegExp {
  const src = re.source;
  const bad = (why: string): never => {
    throw configError(WHERE, `origin pattern /${src}/ ${why}`);
  };
  if (re.global || re.sticky) bad("must not use the g or y flag (they make test() stateful)");
  if (!src.startsWith("^") || !src.endsWith("$") || src.endsWith("\\$")) {
    bad('must be anchored with "^" and "$" (or use an exact origin or "https://*.example.com")');
  }
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) bad('has a top-level "|"; wrap the alternatives: ^(?:a|b)$');
    else if (c === ".") bad('has an unescaped "." (any character); write "\\." for a dot');
  }
  return new RegExp(src, re.flags);
}

/** Compiles and validates an allowlist. `credentials` forbids `"*"`. */
export function compileOrigins(value: unknown, credentials: boolean): CompiledOrigins {
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (value === undefined || list.length === 0) {
    throw configError(WHERE, '"origins" is required: the exact origins allowed to read responses');
  }
  const exact = new Set<string>();
  const wildcards: Wildcard[] = [];
  const patterns: RegExp[] = [];
  let any = false;
  for (const entry of list) {
    if (entry instanceof RegExp) {
      patterns.push(checkRegExp(entry));
      continue;
    }
    if (typeof entry !== "string") throw configError(WHERE, '"origins" entries must be strings or RegExps');
    if (entry === "*") {
      if (credentials) {
        throw configError(
          WHERE,
          '"*" cannot be combined with credentials: list the origins that may send cookies',
        );
      }
      any = true;
      continue;
    }
    if (entry === "null") {
      throw configError(
        WHERE,
        'the "null" origin is refused: sandboxed iframes and data: URLs of any site send it',
      );
    }
    const star = WILDCARD.exec(entry);
    if (star !== null) {
      wildcards.push(wildcard(entry, star[1] as string, star[2] as string));
      continue;
    }
    const check = checkOrigin(entry);
    if (!check.ok) throw configError(WHERE, `"${entry}" is not a valid origin: ${check.reason}`);
    exact.add(check.origin);
  }
  if (any && list.length > 1)
    throw configError(WHERE, '"*" already allows every origin; list nothing else with it');
  if (any) return { any: true, match: () => true };
  return {
    any: false,
    match(origin) {
      if (exact.has(origin)) return true;
      for (const w of wildcards) if (matchesWildcard(w, origin)) return true;
      for (const re of patterns) if (re.test(origin)) return true;
      return false;
    },
  };
}
