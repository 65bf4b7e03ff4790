import { describe, expect, it } from "vitest";
import { fillRandom } from "./random.js";

describe("pooled randomness", () => {
  it("fills buffers of any size, across pool refills, without repeating output", () => {
    const seen = new Set<string>();
    for (const size of [1, 16, 53, 4095, 4096, 10_000]) {
      const a = new Uint8Array(size);
      fillRandom(a);
      const hex = Buffer.from(a).toString("hex");
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
    }
    const big = new Uint8Array(10_000);
    fillRandom(big);
    expect(big.filter((b) => b === 0).length).toBeLessThan(200);
    expect(new Set(big).size).toBe(256);
  });
});
