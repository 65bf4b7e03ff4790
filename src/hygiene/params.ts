import { checkKeys, configError, integer, oneOf } from "../core/options.js";
import type { Guard, RespondOutcome } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import type { RequestView } from "../core/request.js";

/**
 * HTTP parameter pollution defence for query strings and urlencoded forms: a name that is not declared
 * as an array may appear once (a repeat is refused, or collapsed to the first or last value as
 * configured); declared array names always come back as arrays. The result has no prototype, and the
 * names `__proto__`, `constructor` and `prototype` are refused outright.
 */

export type Params = Readonly<Record<string, string | readonly string[]>>;

export type ParamsDecision =
  | { readonly ok: true; readonly params: Params }
  | {
      readonly ok: false;
      readonly code: "ERR_PARAM_DUPLICATE" | "ERR_PARAM_TOO_MANY" | "ERR_PARAM_FORBIDDEN_NAME";
      /** The offending name (absent for ERR_PARAM_TOO_MANY). For logs; never echoed to clients. */
      readonly name?: string;
    };

export interface ParamsOptions {
  /** Names that may repeat; they always come back as arrays, even with one value. Default none. */
  arrays?: readonly string[];
  /** A repeated name that is not in `arrays`: `"reject"` (400), or keep the `"first"` or `"last"` value. Default `"reject"`. */
  duplicates?: "reject" | "first" | "last";
  /** Most parameters accepted. Default 256. */
  maxParams?: number;
}

const KNOWN = ["arrays", "duplicates", "maxParams"] as const;
const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

export interface ResolvedParamsOptions {
  arrays: ReadonlySet<string>;
  duplicates: "reject" | "first" | "last";
  maxParams: number;
}

export function resolveParamsOptions(where: string, options: ParamsOptions): ResolvedParamsOptions {
  const o = checkKeys(where, options, KNOWN);
  if (o.arrays !== undefined && (!Array.isArray(o.arrays) || o.arrays.some((a) => typeof a !== "string"))) {
    throw configError(where, `"arrays" must be an array of parameter names`);
  }
  const arrays = new Set((o.arrays as string[] | undefined) ?? []);
  for (const name of arrays) {
    if (FORBIDDEN.has(name)) throw configError(where, `"arrays" cannot declare "${name}"`);
  }
  return {
    arrays,
    duplicates: oneOf(where, "duplicates", o.duplicates, ["reject", "first", "last"] as const, "reject"),
    maxParams: integer(where, "maxParams", o.maxParams, 256, { min: 1, max: 100_000 }),
  };
}

/** Parses `a=1&b=2` (a leading `?` is ignored) under resolved options. */
export function parseWith(input: string, r: ResolvedParamsOptions): ParamsDecision {
  const search = new URLSearchParams(input.startsWith("?") ? input.slice(1) : input);
  const params: Record<string, string | string[]> = Object.create(null);
  let count = 0;
  for (const [name, value] of search) {
    if (++count > r.maxParams) return { ok: false, code: "ERR_PARAM_TOO_MANY" };
    if (FORBIDDEN.has(name)) return { ok: false, code: "ERR_PARAM_FORBIDDEN_NAME", name };
    if (r.arrays.has(name)) {
      const list = params[name];
      if (list === undefined) params[name] = [value];
      else (list as string[]).push(value);
    } else if (params[name] === undefined) {
      params[name] = value;
    } else if (r.duplicates === "reject") {
      return { ok: false, code: "ERR_PARAM_DUPLICATE", name };
    } else if (r.duplicates === "last") {
      params[name] = value;
    }
  }
  return { ok: true, params };
}

/** Parses a query string or urlencoded form body with pollution checks. Never throws for bad input. */
export function parseParams(input: string, options: ParamsOptions = {}): ParamsDecision {
  return parseWith(input, resolveParamsOptions("parseParams", options));
}

const TITLES = {
  ERR_PARAM_DUPLICATE: "A parameter was repeated",
  ERR_PARAM_TOO_MANY: "Too many parameters",
  ERR_PARAM_FORBIDDEN_NAME: "Forbidden parameter name",
} as const;

/** The 400 response for a refused parameter set (the name is not echoed). */
export function paramsProblem(code: keyof typeof TITLES): RespondOutcome {
  return problem(400, code, TITLES[code]);
}

/**
 * A Guard that parses the query string with pollution checks: 400 `ERR_PARAM_*` on refusal, otherwise
 * the parsed parameters in `locals.query` (a prototype-less object).
 */
export function queryGuard(options: ParamsOptions = {}): Guard {
  const r = resolveParamsOptions("queryGuard", options);
  return (view: RequestView) => {
    const q = view.url.indexOf("?");
    const decision = parseWith(q === -1 ? "" : view.url.slice(q + 1), r);
    if (!decision.ok) return paramsProblem(decision.code);
    return { action: "continue", locals: { query: decision.params } };
  };
}
