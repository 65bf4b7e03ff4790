import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "tsup";

/** Every `index.ts` under src/ is an entry: one subpath export per folder. */
function entries(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...entries(path));
    else if (name === "index.ts") out.push(path);
  }
  return out;
}

export default defineConfig({
  entry: entries("src"),
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
  splitting: true,
  treeshake: true,
});
