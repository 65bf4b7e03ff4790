import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatMoney, platformFeeCents } from "./money.js";

describe("platformFeeCents", () => {
  it("takes 5 % rounded half up to the cent", () => {
    expect(platformFeeCents(12_500)).toBe(625);
    expect(platformFeeCents(12_345)).toBe(617); // 617.25
    expect(platformFeeCents(12_350)).toBe(618); // 617.5 → up
    expect(platformFeeCents(10)).toBe(1); // 0.5 → up
    expect(platformFeeCents(9)).toBe(0); // 0.45
    expect(platformFeeCents(0)).toBe(0);
  });

  it("never differs from the exact 5 % by more than half a cent, and never exceeds the amount", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000_000 }), (amount) => {
        const fee = platformFeeCents(amount);
        expect(Number.isInteger(fee)).toBe(true);
        expect(Math.abs(fee - amount * 0.05)).toBeLessThanOrEqual(0.5 + 1e-9);
        expect(fee).toBeLessThanOrEqual(amount);
      }),
    );
  });

  it("refuses fractional and negative amounts", () => {
    expect(() => platformFeeCents(1.5)).toThrow(RangeError);
    expect(() => platformFeeCents(-1)).toThrow(RangeError);
  });

  it("formats cents", () => {
    expect(formatMoney(12_500, "eur")).toBe("EUR 125.00");
  });
});
