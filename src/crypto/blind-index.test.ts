import { createHmac, hkdfSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { BulwarkError } from "../core/errors.js";
import { blindIndex } from "./blind-index.js";
import { toHex } from "./bytes.js";
import { deriveKey } from "./derive.js";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 3 * i + 5);
const MASTER = Uint8Array.from({ length: 32 }, (_, i) => 255 - 2 * i);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof BulwarkError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "nothing thrown";
}

describe("blindIndex", () => {
  it("is base64url(HMAC-SHA256(key, value)) as node:crypto computes it", () => {
    const index = blindIndex({ key: KEY });
    const expected = createHmac("sha256", KEY).update("123-45-6789").digest("base64url");
    expect(index("123-45-6789")).toBe(expected);
    expect(index("123-45-6789")).toBe(index("123-45-6789"));
  });

  it("normalises to NFC by default, so composed and decomposed forms match", () => {
    const index = blindIndex({ key: KEY });
    expect(index("Jos\u00e9")).toBe(index("Jose\u0301"));
  });

  it("applies the normalisation hook before hashing", () => {
    const index = blindIndex({ key: KEY, normalize: (ssn) => ssn.replace(/\D/g, "") });
    expect(index("123-45-6789")).toBe(index("123 45 6789"));
    expect(index("123-45-6789")).not.toBe(index("123-45-6780"));
  });

  it("differs under another key and truncates to outputBytes", () => {
    const other = Uint8Array.from(KEY, (b) => b ^ 1);
    expect(blindIndex({ key: KEY })("x")).not.toBe(blindIndex({ key: other })("x"));
    const short = blindIndex({ key: KEY, outputBytes: 8 })("x");
    expect(Buffer.from(short, "base64url").byteLength).toBe(8);
    expect(blindIndex({ key: KEY })("x").startsWith(short.slice(0, 10))).toBe(true);
  });

  it.each([
    ["an all-zero key", { key: new Uint8Array(32) }, /ERR_CONFIG_INVALID: blindIndex: "key" is all zeros/],
    ["a short key", { key: new Uint8Array(20).map((_, i) => i) }, /exactly 32 bytes, got 20/],
    ["outputBytes below 8", { key: KEY, outputBytes: 4 }, /"outputBytes" must be ≥ 8/],
    ["outputBytes above 32", { key: KEY, outputBytes: 33 }, /"outputBytes" must be ≤ 32/],
    ["a normalize that is not a function", { key: KEY, normalize: "nfc" }, /"normalize" must be a function/],
    ["an unknown option", { key: KEY, normalise: () => "" }, /did you mean "normalize"/],
  ])("refuses %s", (_, options, message) => {
    expect(code(() => blindIndex(options as never))).toMatch(message);
  });

  it("refuses a non-string input and a hook that returns a non-string", () => {
    expect(code(() => blindIndex({ key: KEY })(5 as never))).toMatch(/^ERR_CRYPTO_INVALID_INPUT/);
    expect(code(() => blindIndex({ key: KEY, normalize: () => 1 as never })("x"))).toMatch(
      /^ERR_CRYPTO_INVALID_INPUT: blindIndex "normalize" must return a string/,
    );
  });
});

describe("deriveKey", () => {
  it("is HKDF-SHA256(master, salt, purpose) as node:crypto computes it", () => {
    const expected = new Uint8Array(hkdfSync("sha256", MASTER, "deploy-1", "field-encryption", 32));
    expect(toHex(deriveKey(MASTER, { purpose: "field-encryption", salt: "deploy-1" }))).toBe(toHex(expected));
    const unsalted = new Uint8Array(hkdfSync("sha256", MASTER, new Uint8Array(0), "x", 48));
    expect(deriveKey(MASTER, { purpose: "x", lengthBytes: 48 })).toEqual(unsalted);
  });

  it("gives independent keys per purpose and the same key for the same purpose", () => {
    const a = deriveKey(toHex(MASTER), { purpose: "field-encryption" });
    const b = deriveKey(MASTER, { purpose: "blind-index:users.ssn" });
    expect(a).toEqual(deriveKey(MASTER, { purpose: "field-encryption" }));
    expect(toHex(a)).not.toBe(toHex(b));
    expect(blindIndex({ key: b })("x")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it.each([
    ["an all-zero master key", new Uint8Array(32), { purpose: "p" }, /"masterKey" is all zeros/],
    ["a short master key", "abcd", { purpose: "p" }, /"masterKey" must be exactly 32 bytes/],
    ["a missing purpose", MASTER, {}, /"purpose" must be a non-empty string/],
    ["an empty purpose", MASTER, { purpose: "" }, /"purpose" must be a non-empty string/],
    ["a numeric salt", MASTER, { purpose: "p", salt: 1 }, /"salt" must be a string or Uint8Array/],
    ["a 15-byte output", MASTER, { purpose: "p", lengthBytes: 15 }, /"lengthBytes" must be ≥ 16/],
    ["an unknown option", MASTER, { purpose: "p", info: "x" }, /unknown option "info"/],
  ])("refuses %s with ERR_CONFIG_INVALID", (_, master, options, message) => {
    const result = code(() => deriveKey(master as never, options as never));
    expect(result).toMatch(/^ERR_CONFIG_INVALID: deriveKey: /);
    expect(result).toMatch(message);
  });
});
