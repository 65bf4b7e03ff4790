import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { timingSafeEqual } from "./compare.js";

describe("timingSafeEqual", () => {
  it("accepts equal strings and byte arrays", () => {
    expect(timingSafeEqual("abc", "abc")).toBe(true);
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(timingSafeEqual("", "")).toBe(true);
  });

  it("rejects different lengths, including a prefix and the empty string", () => {
    expect(timingSafeEqual("abc", "abcd")).toBe(false);
    expect(timingSafeEqual("abcd", "abc")).toBe(false);
    expect(timingSafeEqual("", "a")).toBe(false);
    expect(timingSafeEqual("a", "")).toBe(false);
  });

  it("rejects a repeated-pattern input that a modulo index could confuse", () => {
    expect(timingSafeEqual("ab", "abab")).toBe(false);
  });

  it("agrees with plain equality on arbitrary byte arrays", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        const same = a.length === b.length && a.every((v, i) => v === b[i]);
        expect(timingSafeEqual(a, b)).toBe(same);
      }),
    );
  });

  it("fails for any single flipped bit", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (a, i, bit) => {
          const b = a.slice();
          const at = i % b.length;
          b[at] = (b[at] as number) ^ (1 << bit);
          expect(timingSafeEqual(a, b)).toBe(false);
        },
      ),
    );
  });
});
