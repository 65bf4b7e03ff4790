import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * The README's code must be real: every fenced block whose info string names a file
 * (```ts examples/express.ts) must equal that file, and those files are run by their own tests.
 * The set-up commands must match package.json scripts.
 */
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const blocks = [...readme.matchAll(/```(\w+) ([\w./-]+)\n([\s\S]*?)```/g)].map((m) => ({
  path: m[2] as string,
  body: m[3] as string,
}));

describe("README", () => {
  it("names the scripts it tells users to run", () => {
    const scripts = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
      .scripts as Record<string, string>;
    for (const m of readme.matchAll(/^npm (start|test|run [\w:-]+)/gm)) {
      const name = (m[1] as string).replace(/^run /, "");
      expect(scripts[name], `npm ${m[1]}`).toBeDefined();
    }
  });

  it("has at least one code block that names its file", () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks)("shows $path exactly as the file is", ({ path, body }) => {
    const file = new URL(`../${path}`, import.meta.url);
    expect(existsSync(file), path).toBe(true);
    expect(body).toBe(readFileSync(file, "utf8"));
  });
});
