import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIdempotencyKey } from "./key.js";

describe("parseIdempotencyKey", () => {
  it("reads the draft's examples: an sf-string holding a UUID or a random string", () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe(
      "8e03978e-40d5-43e8-bc93-6894a57f9324",
    );
    expect(parseIdempotencyKey('"clkyoesmbgybucifusbbtdsbohtyuuwz"')).toBe(
      "clkyoesmbgybucifusbbtdsbohtyuuwz",
    );
  });

  it('unescapes \\" and \\\\ inside an sf-string and trims surrounding whitespace', () => {
    expect(parseIdempotencyKey(' \t"a\\"b\\\\c" ')).toBe('a"b\\c');
    expect(parseIdempotencyKey('"with space"')).toBe("with space");
  });

  it("accepts a bare token-safe key, as Stripe-style clients send", () => {
    expect(parseIdempotencyKey("8e03978e-40d5-43e8-bc93-6894a57f9324")).toBe(
      "8e03978e-40d5-43e8-bc93-6894a57f9324",
    );
    expect(parseIdempotencyKey("order_42:retry=1")).toBe("order_42:retry=1");
  });

  it.each([
    ["empty", ""],
    ["an empty sf-string", '""'],
    ["an unterminated sf-string", '"abc'],
    ["parameters after the string", '"abc";v=1'],
    ["a list of two keys", '"a", "b"'],
    ["an invalid escape", '"a\\nb"'],
    ["a control character", '"a\u0001b"'],
    ["a non-ASCII character", '"clé"'],
    ["a bare key with a comma", "a,b"],
    ["a bare key with a space", "a b"],
    ["a bare key with a quote inside", 'a"b'],
    ["256 characters", `"${"k".repeat(256)}"`],
    ["a bare key of 256 characters", "k".repeat(256)],
  ])("refuses %s", (_name, value) => {
    expect(parseIdempotencyKey(value)).toBeUndefined();
  });

  it("accepts 255 characters", () => {
    expect(parseIdempotencyKey(`"${"k".repeat(255)}"`)).toHaveLength(255);
  });

  it("round-trips any printable-ASCII key serialised as an sf-string (property)", () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
          minLength: 1,
          maxLength: 255,
        }),
        (key) => {
          const serialised = `"${key.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
          expect(parseIdempotencyKey(serialised)).toBe(key);
        },
      ),
    );
  });
});
