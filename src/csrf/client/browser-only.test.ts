import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const sources = readdirSync(here).filter((f) => f.endsWith(".ts") && !f.includes(".test"));

describe("the browser client has no Node dependencies", () => {
  it("imports nothing but its own files (not even Node types)", () => {
    expect(sources.sort()).toEqual(["axios.ts", "fetch.ts", "index.ts", "manager.ts", "protocol.ts"]);
    for (const file of sources) {
      const text = readFileSync(join(here, file), "utf8");
      const imports = [...text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]);
      for (const specifier of imports)
        expect(specifier, `${file} imports ${specifier}`).toMatch(/^\.\/[a-z-]+\.js$/);
      expect(text, file).not.toMatch(/\bBuffer\b|\bprocess\.|\brequire\(|NodeJS\./);
    }
  });

  it("bundles for the browser platform without any Node built-in", async () => {
    const result = await build({
      entryPoints: [join(here, "index.ts")],
      bundle: true,
      write: false,
      platform: "browser",
      format: "esm",
      target: "es2020",
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]?.text ?? "";
    expect(code).toContain("bulwark.csrf.tokenManagers.v1");
    expect(code).not.toMatch(/node:|require\(/);
  });
});
