import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { errorsDoc } from "../scripts/errors-doc.js";

describe("docs/errors.md", () => {
  it("documents every error code exactly as src/core/errors.ts defines it", () => {
    const committed = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
    expect(committed).toBe(errorsDoc());
  });
});
