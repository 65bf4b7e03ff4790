import { checkKeys, oneOf } from "../core/options.js";

/**
 * Prototype-pollution-safe JSON parsing, after the approach of hapi's bourne and fastify's
 * secure-json-parse: parse with `JSON.parse`, and only when the text could contain a `"__proto__":` or
 * `"constructor":` key (also spelled with `\u` escapes) walk the result looking for an own `__proto__`
 * key or a `constructor` object with an own `prototype` key. `JSON.parse` itself never pollutes; the
 * danger is the later `Object.assign`/deep merge that copies such a key onto a live object.
 */

export type JsonDecision =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: "ERR_JSON_MALFORMED" | "ERR_JSON_PROTOTYPE_POLLUTION" };

export interface SafeJsonOptions {
  /** What to do with an own `__proto__` key: refuse the document, or drop the key. Default `"error"`. */
  protoAction?: "error" | "remove";
  /** What to do with `constructor: { prototype: … }`: refuse the document, or drop the key. Default `"error"`. */
  constructorAction?: "error" | "remove";
}

/** A key pattern matching `"word"` followed by `:`, each character also as its `\uXXXX` escape. */
function suspectKey(word: string): RegExp {
  const chars = [...word].map((ch) => {
    const hex = ch.charCodeAt(0).toString(16).padStart(4, "0");
    const escaped = [...hex].map((d) => (/[a-f]/.test(d) ? `[${d}${d.toUpperCase()}]` : d)).join("");
    return `(?:${ch}|\\\\u${escaped})`;
  });
  return new RegExp(`"${chars.join("")}"\\s*:`);
}

const SUSPECT_PROTO = suspectKey("__proto__");
const SUSPECT_CONSTRUCTOR = suspectKey("constructor");
const hasOwn = (o: object, key: string) => Object.hasOwn(o, key);

const MALFORMED: JsonDecision = Object.freeze({ ok: false, code: "ERR_JSON_MALFORMED" });
const POLLUTION: JsonDecision = Object.freeze({ ok: false, code: "ERR_JSON_PROTOTYPE_POLLUTION" });

interface Resolved {
  removeProto: boolean;
  removeConstructor: boolean;
}

/** Walks `root` breadth-first without recursion; false when a forbidden key must refuse the document. */
function scan(root: object, r: Resolved): boolean {
  let next: object[] = [root];
  while (next.length > 0) {
    const nodes = next;
    next = [];
    for (const node of nodes) {
      if (hasOwn(node, "__proto__")) {
        if (!r.removeProto) return false;
        Reflect.deleteProperty(node, "__proto__");
      }
      const ctor = hasOwn(node, "constructor") ? (node as Record<string, unknown>).constructor : undefined;
      if (typeof ctor === "object" && ctor !== null && hasOwn(ctor, "prototype")) {
        if (!r.removeConstructor) return false;
        Reflect.deleteProperty(node, "constructor");
      }
      for (const key in node) {
        const value = (node as Record<string, unknown>)[key];
        if (typeof value === "object" && value !== null) next.push(value);
      }
    }
  }
  return true;
}

function parse(text: string, r: Resolved): JsonDecision {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  // A SyntaxError's stack trace is never used; skipping it makes rejecting garbage cheap.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    value = JSON.parse(source);
  } catch {
    return MALFORMED;
  } finally {
    Error.stackTraceLimit = limit;
  }
  if (typeof value !== "object" || value === null) return { ok: true, value };
  if (!SUSPECT_PROTO.test(source) && !SUSPECT_CONSTRUCTOR.test(source)) return { ok: true, value };
  return scan(value, r) ? { ok: true, value } : POLLUTION;
}

const KNOWN = ["protoAction", "constructorAction"] as const;

function resolve(options: SafeJsonOptions, where: string): Resolved {
  const o = checkKeys(where, options, KNOWN);
  return {
    removeProto:
      oneOf(where, "protoAction", o.protoAction, ["error", "remove"] as const, "error") === "remove",
    removeConstructor:
      oneOf(where, "constructorAction", o.constructorAction, ["error", "remove"] as const, "error") ===
      "remove",
  };
}

const DEFAULTS: Resolved = { removeProto: false, removeConstructor: false };

/** Creates a parser with fixed options (resolved once). */
export function safeJsonParser(options: SafeJsonOptions = {}): (text: string) => JsonDecision {
  const r = resolve(options, "safeJsonParser");
  return (text) => parse(text, r);
}

/**
 * Parses JSON, refusing (or, with `remove`, dropping) `__proto__` keys and `constructor.prototype`
 * keys at any depth. Never throws: returns `{ ok: false, code }` for malformed or polluting input.
 */
export function safeJsonParse(text: string, options?: SafeJsonOptions): JsonDecision {
  return parse(text, options === undefined ? DEFAULTS : resolve(options, "safeJsonParse"));
}
