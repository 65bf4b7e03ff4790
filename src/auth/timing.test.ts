import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareTimings, median } from "./timing.js";

describe("compareTimings (Mann–Whitney U)", () => {
  it("matches the textbook example from SciPy's mannwhitneyu documentation (U1 = 17)", () => {
    const r = compareTimings([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    expect(r.u).toBe(17);
    expect(r.z).toBeCloseTo(7 / Math.sqrt(50 / 3), 10);
    expect(r.superiority).toBeCloseTo(17 / 20, 10);
  });

  it("gives superiority 0 or 1 for samples that never overlap, and 0.5 for identical ones", () => {
    expect(compareTimings([1, 2, 3], [4, 5, 6]).superiority).toBe(0);
    expect(compareTimings([4, 5, 6], [1, 2, 3]).superiority).toBe(1);
    const same = compareTimings([1, 2, 3, 3], [1, 2, 3, 3]);
    expect(same.superiority).toBe(0.5);
    expect(same.z).toBe(0);
  });

  it("is antisymmetric: swapping the samples negates z", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 30 }),
        (a, b) => {
          const ab = compareTimings(a, b);
          const ba = compareTimings(b, a);
          expect(ab.z + ba.z).toBeCloseTo(0, 9);
          expect(ab.superiority + ba.superiority).toBeCloseTo(1, 9);
        },
      ),
    );
  });

  it("computes medians of odd and even samples", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
