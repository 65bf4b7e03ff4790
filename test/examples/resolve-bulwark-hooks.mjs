import { readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url);
const { exports } = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));

/** Maps `bulwark` and `bulwark/<subpath>` to src/…/index.ts through the package's own export map. */
export async function resolve(specifier, context, nextResolve) {
  if (specifier === "bulwark" || specifier.startsWith("bulwark/")) {
    const entry = exports[specifier === "bulwark" ? "." : `./${specifier.slice("bulwark/".length)}`];
    const target = typeof entry === "object" ? entry.default : undefined;
    if (typeof target === "string" && target.startsWith("./dist/")) {
      const source = target.replace(/^\.\/dist\//, "./src/").replace(/\.js$/, ".ts");
      return nextResolve(new URL(source, root).href, context);
    }
  }
  return nextResolve(specifier, context);
}
