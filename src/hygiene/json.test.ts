import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { safeJsonParse, safeJsonParser } from "./json.js";

const remove = safeJsonParser({ protoAction: "remove", constructorAction: "remove" });
const POLLUTION = { ok: false, code: "ERR_JSON_PROTOTYPE_POLLUTION" };

// Inputs from fastify/secure-json-parse's test suite (test/index.test.js).
describe("safeJsonParse (secure-json-parse vectors)", () => {
  it.each([
    ['{"a": 5, "b": 6}', { a: 5, b: 6 }],
    ["null", null],
    ["0", 0],
    ['"X"', "X"],
    ['{"a": 5, "b": "__proto__"}', { a: 5, b: "__proto__" }],
    ['{"a": 5, "b": "constructor"}', { a: 5, b: "constructor" }],
    ['{ "a": 5, "b": 6, "constructor":{"bar":"baz"} }', { a: 5, b: 6, constructor: { bar: "baz" } }],
    ['{"constructor": null}', { constructor: null }],
  ])("parses %s", (text, value) => {
    expect(safeJsonParse(text)).toEqual({ ok: true, value });
  });

  it.each([
    '{ "a": 5, "b": 6, "__proto__": { "x": 7 } }',
    '{ "a": 5, "b": 6, "__proto__" : { "x": 7 } }',
    '{ "a": 5, "b": 6, "__proto__" \n\r\t : { "x": 7 } }',
    '{ "a": 5, "b": 6, "__proto__" \n \r \t : { "x": 7 } }',
    '{ "a": 5, "b": 6, "\\u005f_proto__": { "x": 7 } }',
    '{ "a": 5, "b": 6, "_\\u005fp\\u0072oto__": { "x": 7 } }',
    '{ "a": 5, "b": 6, "\\u005f\\u005f\\u0070\\u0072\\u006f\\u0074\\u006f\\u005f\\u005f": { "x": 7 } }',
    '{ "a": 5, "b": 6, "\\u005F_proto__": { "x": 7 } }',
    '{ "a": 5, "b": 6, "_\\u005Fp\\u0072oto__": { "x": 7 } }',
    '{ "a": 5, "b": 6, "\\u005F\\u005F\\u0070\\u0072\\u006F\\u0074\\u006F\\u005F\\u005F": { "x": 7 } }',
    '{ "a": 5, "b": 6, "constructor": {"prototype":{"bar":"baz"}} }',
    '{ "a": 5, "b": 6, "constructor" : {"prototype":{"bar":"baz"}} }',
    '{ "a": 5, "b": 6, "constructor" \n\r\t : {"prototype":{"bar":"baz"}} }',
    '{ "a": 5, "b": 6, "\\u0063\\u006fnstructor": {"prototype":{"bar":"baz"}} }',
    '{ "a": 5, "b": 6, "\\u0063\\u006f\\u006e\\u0073\\u0074ructor": {"prototype":{"bar":"baz"}} }',
    '{ "a": 5, "b": 6, "\\u0063\\u006F\\u006E\\u0073\\u0074\\u0072\\u0075\\u0063\\u0074\\u006F\\u0072": {"prototype":{"bar":"baz"}} }',
    '{ "a": 5, "b": 6, "constructor": { "x": 7 }, "c": { "d": 0, "e": "text", "__proto__": { "y": 8 }, "f": { "g": 2 } } }',
    '[{"ok":1},{"deep":[{"__proto__":{"isAdmin":true}}]}]',
  ])("refuses %s", (text) => {
    expect(safeJsonParse(text)).toEqual(POLLUTION);
  });

  it("removes __proto__ at every depth with protoAction remove", () => {
    const text =
      '{ "a": 5, "b": 6, "__proto__": { "x": 7 }, "c": { "d": 0, "e": "text", "__proto__": { "y": 8 }, "f": { "g": 2 } } }';
    expect(remove(text)).toEqual({ ok: true, value: { a: 5, b: 6, c: { d: 0, e: "text", f: { g: 2 } } } });
  });

  it("removes constructor.prototype with constructorAction remove", () => {
    expect(remove('{"a": 5, "b": 6, "constructor":{"prototype":{"bar":"baz"}} }')).toEqual({
      ok: true,
      value: { a: 5, b: 6 },
    });
  });

  it("removes even when hasOwnProperty is overwritten in the document", () => {
    expect(remove('{ "a": 5, "b": 6, "hasOwnProperty": "text", "__proto__": { "x": 7 } }')).toEqual({
      ok: true,
      value: { a: 5, b: 6, hasOwnProperty: "text" },
    });
  });

  it("strips a leading byte-order mark", () => {
    expect(safeJsonParse('\uFEFF{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
  });

  it.each(['{"a": 5, "b": 6', "", "undefined", "{'a':1}", '{"a":1} trailing', "\u0000"])(
    "answers ERR_JSON_MALFORMED for %j without throwing",
    (text) => {
      expect(safeJsonParse(text)).toEqual({ ok: false, code: "ERR_JSON_MALFORMED" });
    },
  );

  it("leaves Error.stackTraceLimit as it found it", () => {
    const before = Error.stackTraceLimit;
    safeJsonParse("{bad");
    expect(Error.stackTraceLimit).toBe(before);
  });

  it("refuses an unknown action (no silent 'ignore')", () => {
    let caught: unknown;
    try {
      safeJsonParser({ protoAction: "ignore" as never });
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
  });
});

describe("safeJsonParse properties", () => {
  it("agrees with JSON.parse on every document without forbidden keys", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        const decision = safeJsonParse(text);
        const hasForbidden = /"__proto__"\s*:|"constructor"\s*:\s*\{[^}]*"prototype"/.test(text);
        if (!hasForbidden) expect(decision).toEqual({ ok: true, value: JSON.parse(text) });
      }),
    );
  });

  it("never lets a merged result pollute Object.prototype, whatever the nesting", () => {
    const key = fc.constantFrom("a", "b", "__proto__", "constructor", "prototype");
    const { tree } = fc.letrec<{ tree: string }>((tie) => ({
      tree: fc.oneof(
        { depthSize: "small" },
        fc.constantFrom("1", '"x"', "true", "null", '{"polluted":"yes"}'),
        fc.array(tie("tree"), { maxLength: 3 }).map((items) => `[${items.join(",")}]`),
        fc
          .array(fc.tuple(key, tie("tree")), { maxLength: 3 })
          .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`),
      ),
    }));
    const deepMerge = (target: Record<string, unknown>, source: unknown): void => {
      if (typeof source !== "object" || source === null) return;
      for (const k of Object.keys(source)) {
        const v = (source as Record<string, unknown>)[k];
        if (typeof v === "object" && v !== null) {
          if (typeof target[k] !== "object" || target[k] === null) target[k] = {};
          deepMerge(target[k] as Record<string, unknown>, v);
        } else {
          target[k] = v;
        }
      }
    };
    fc.assert(
      fc.property(tree, (text) => {
        for (const decision of [safeJsonParse(text), remove(text)]) {
          if (decision.ok) deepMerge({}, decision.value);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          expect((Object.prototype as unknown as Record<string, unknown>).polluted).toBeUndefined();
        }
      }),
      { numRuns: 500 },
    );
  });
});
