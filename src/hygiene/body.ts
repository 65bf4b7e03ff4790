import { checkKeys, configError, integer, oneOf } from "../core/options.js";
import { CONTINUE, type Guard, type Outcome, type RespondOutcome } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import type { RequestView } from "../core/request.js";
import { type SafeJsonOptions, safeJsonParser } from "./json.js";
import { type ParamsOptions, paramsProblem, parseWith, resolveParamsOptions } from "./params.js";

/**
 * Request bodies read through `view.rawBody(maxBytes)` with a limit per content type, decoded as strict
 * UTF-8 and parsed safely; the parsed value lands in `locals.body`. Every refusal is a problem+json
 * response with a stable code and never a stack: 413 too large, 415 unsupported type or charset,
 * 400 malformed, polluted or undecodable.
 */

/** 100 KiB, the JSON default (the same figure body-parser and Fastify use). */
export const DEFAULT_JSON_MAX_BYTES = 102_400;

export interface BodyGuardOptions {
  /** JSON (`application/json`, `application/*+json`): `{ maxBytes }` or `false` to refuse it (415). Default `{ maxBytes: 102_400 }`. */
  json?: { maxBytes?: number } | false;
  /**
   * `application/x-www-form-urlencoded`: `{ maxBytes, arrays, duplicates, maxParams }` (parameter
   * pollution rules as for queries) or `false`. Default `{ maxBytes: 102_400 }`.
   */
  form?: ({ maxBytes?: number } & ParamsOptions) | false;
  /** `text/plain`: `{ maxBytes }` or `false`. Default `false` (refused with 415). */
  text?: { maxBytes?: number } | false;
  /** Media types left alone (the request continues unread), e.g. `["multipart/form-data"]`. Default none. */
  skipTypes?: readonly string[];
  /** Methods whose body is checked; others pass untouched. Default `["POST", "PUT", "PATCH", "DELETE"]`. */
  methods?: readonly string[];
  /** Prototype-pollution handling for JSON. Default `"error"` for both. */
  protoAction?: SafeJsonOptions["protoAction"];
  constructorAction?: SafeJsonOptions["constructorAction"];
}

const KNOWN = ["json", "form", "text", "skipTypes", "methods", "protoAction", "constructorAction"] as const;

const TITLES = {
  ERR_BODY_TOO_LARGE: "Content Too Large",
  ERR_BODY_UNSUPPORTED_MEDIA_TYPE: "Unsupported media type",
  ERR_BODY_UNSUPPORTED_CHARSET: "Unsupported charset",
  ERR_BODY_INVALID_ENCODING: "Request body is not valid UTF-8",
  ERR_BODY_READ_FAILED: "Request body could not be read",
  ERR_BODY_UNAVAILABLE: "Request body unavailable",
  ERR_JSON_MALFORMED: "Malformed JSON",
  ERR_JSON_PROTOTYPE_POLLUTION: "Forbidden JSON key",
} as const;

type BodyCode = keyof typeof TITLES;

const STATUS: Record<BodyCode, number> = {
  ERR_BODY_TOO_LARGE: 413,
  ERR_BODY_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_BODY_UNSUPPORTED_CHARSET: 415,
  ERR_BODY_INVALID_ENCODING: 400,
  ERR_BODY_READ_FAILED: 400,
  ERR_BODY_UNAVAILABLE: 500,
  ERR_JSON_MALFORMED: 400,
  ERR_JSON_PROTOTYPE_POLLUTION: 400,
};

// Built once: refusals are shared, frozen values.
const REFUSALS = Object.fromEntries(
  (Object.keys(TITLES) as BodyCode[]).map((code) => [
    code,
    Object.freeze(problem(STATUS[code], code, TITLES[code])),
  ]),
) as Record<BodyCode, RespondOutcome>;

/** The response a body guard gives for `code`. */
export function bodyProblem(code: BodyCode): RespondOutcome {
  return REFUSALS[code];
}

type Kind = "json" | "form" | "text";

/** Media type (lower-case, no parameters) and charset of a Content-Type header. */
export function parseContentType(header: string): { type: string; charset: string | undefined } {
  const parts = header.split(";");
  const type = (parts[0] ?? "").trim().toLowerCase();
  let charset: string | undefined;
  for (let i = 1; i < parts.length; i++) {
    const [k, v] = (parts[i] as string).split("=", 2);
    if (k?.trim().toLowerCase() === "charset" && v !== undefined) {
      charset = v
        .trim()
        .replace(/^"(.*)"$/, "$1")
        .toLowerCase();
    }
  }
  return { type, charset };
}

function kindOf(type: string): Kind | undefined {
  if (type === "application/json" || (type.startsWith("application/") && type.endsWith("+json")))
    return "json";
  if (type === "application/x-www-form-urlencoded") return "form";
  if (type === "text/plain") return "text";
  return undefined;
}

function limitOf(where: string, key: string, value: unknown, fallback: number | false): number | false {
  if (value === false) return false;
  if (value === undefined) return fallback;
  if (typeof value !== "object" || value === null)
    throw configError(where, `"${key}" must be an object or false`);
  const maxBytes = (value as { maxBytes?: unknown }).maxBytes;
  return integer(where, `${key}.maxBytes`, maxBytes, fallback === false ? DEFAULT_JSON_MAX_BYTES : fallback, {
    min: 1,
    max: 1_073_741_824,
  });
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Creates the body Guard (see `BodyGuardOptions`). */
export function bodyGuard(options: BodyGuardOptions = {}): Guard {
  const where = "bodyGuard";
  const o = checkKeys(where, options, KNOWN);
  const limits: Record<Kind, number | false> = {
    json: limitOf(where, "json", o.json, DEFAULT_JSON_MAX_BYTES),
    form: limitOf(where, "form", o.form, DEFAULT_JSON_MAX_BYTES),
    text: limitOf(where, "text", o.text, false),
  };
  const formOptions = o.form === undefined || o.form === false ? {} : { ...(o.form as object) };
  delete (formOptions as { maxBytes?: unknown }).maxBytes;
  const form = resolveParamsOptions(`${where} form`, formOptions);
  const parseJson = safeJsonParser({
    protoAction: oneOf(where, "protoAction", o.protoAction, ["error", "remove"] as const, "error"),
    constructorAction: oneOf(
      where,
      "constructorAction",
      o.constructorAction,
      ["error", "remove"] as const,
      "error",
    ),
  });
  const list = (key: string, value: unknown, fallback: string[], upper: boolean): Set<string> => {
    if (value === undefined) return new Set(fallback);
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v.length === 0)) {
      throw configError(where, `"${key}" must be an array of strings`);
    }
    return new Set(value.map((v: string) => (upper ? v.toUpperCase() : v.toLowerCase())));
  };
  const methods = list("methods", o.methods, ["POST", "PUT", "PATCH", "DELETE"], true);
  const skipTypes = list("skipTypes", o.skipTypes, [], false);

  return async (view: RequestView): Promise<Outcome> => {
    if (!methods.has(view.method)) return CONTINUE;
    const lengthHeader = view.header("content-length");
    const length = lengthHeader === undefined ? undefined : Number(lengthHeader);
    const chunked = view.header("transfer-encoding") !== undefined;
    if (!chunked && (length === undefined || length === 0)) return CONTINUE;

    const contentType = view.header("content-type");
    if (contentType === undefined) return REFUSALS.ERR_BODY_UNSUPPORTED_MEDIA_TYPE;
    const { type, charset } = parseContentType(contentType);
    if (skipTypes.has(type)) return CONTINUE;
    const kind = kindOf(type);
    const maxBytes = kind === undefined ? false : limits[kind];
    if (kind === undefined || maxBytes === false) return REFUSALS.ERR_BODY_UNSUPPORTED_MEDIA_TYPE;
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
      return REFUSALS.ERR_BODY_UNSUPPORTED_CHARSET;
    }
    if (length !== undefined && !(Number.isSafeInteger(length) && length >= 0)) {
      return REFUSALS.ERR_BODY_READ_FAILED;
    }
    if (length !== undefined && length > maxBytes) return REFUSALS.ERR_BODY_TOO_LARGE;
    if (view.rawBody === undefined) return REFUSALS.ERR_BODY_UNAVAILABLE;

    let bytes: Uint8Array;
    try {
      bytes = await view.rawBody(maxBytes);
    } catch (error) {
      const e = error as { status?: unknown; statusCode?: unknown; code?: unknown } | null;
      if (e?.status === 413 || e?.statusCode === 413 || e?.code === "ERR_BODY_TOO_LARGE") {
        return REFUSALS.ERR_BODY_TOO_LARGE;
      }
      // The adapter says the body was consumed before the guard (a body parser mounted first).
      if (e?.code === "ERR_BODY_UNAVAILABLE") return REFUSALS.ERR_BODY_UNAVAILABLE;
      return REFUSALS.ERR_BODY_READ_FAILED;
    }
    if (bytes.byteLength > maxBytes) return REFUSALS.ERR_BODY_TOO_LARGE;

    let text: string;
    try {
      // The decoder drops a leading byte-order mark.
      text = decoder.decode(bytes);
    } catch {
      return REFUSALS.ERR_BODY_INVALID_ENCODING;
    }

    let body: unknown;
    if (kind === "json") {
      const decision = parseJson(text);
      if (!decision.ok) return REFUSALS[decision.code];
      body = decision.value;
    } else if (kind === "form") {
      const decision = parseWith(text, form);
      if (!decision.ok) return paramsProblem(decision.code);
      body = decision.params;
    } else {
      body = text;
    }
    return { action: "continue", locals: { body } };
  };
}

export interface JsonBodyOptions extends SafeJsonOptions {
  /** Largest JSON body accepted, in bytes. Default 102_400 (100 KiB). */
  maxBytes?: number;
  /** Methods whose body is checked. Default `["POST", "PUT", "PATCH", "DELETE"]`. */
  methods?: readonly string[];
}

/** A body Guard that accepts only JSON (anything else with a body gets 415); the value lands in `locals.body`. */
export function jsonBody(options: JsonBodyOptions = {}): Guard {
  const o = checkKeys("jsonBody", options, ["maxBytes", "methods", "protoAction", "constructorAction"]);
  return bodyGuard({
    json: { maxBytes: integer("jsonBody", "maxBytes", o.maxBytes, DEFAULT_JSON_MAX_BYTES, { min: 1 }) },
    form: false,
    text: false,
    ...(o.methods === undefined ? {} : { methods: o.methods as string[] }),
    ...(o.protoAction === undefined ? {} : { protoAction: o.protoAction as "error" | "remove" }),
    ...(o.constructorAction === undefined
      ? {}
      : { constructorAction: o.constructorAction as "error" | "remove" }),
  });
}
