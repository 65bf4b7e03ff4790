import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CliUsageError } from "./io.js";

const TYPESCRIPT = /\.[cm]?tsx?$/;

interface TsxApi {
  tsImport(specifier: string, options: { parentURL: string }): Promise<Record<string, unknown>>;
}

/** The ESM entry of tsx's programmatic API in the installation `base` resolves to, if any. */
function tsxApiEntry(base: string): string | undefined {
  try {
    const manifest = createRequire(base).resolve("tsx/package.json");
    const exports = JSON.parse(readFileSync(manifest, "utf8")).exports?.["./esm/api"];
    const target = exports?.import?.default ?? exports?.import;
    return typeof target === "string" ? join(dirname(manifest), target) : undefined;
  } catch {
    return undefined;
  }
}

/** tsx's programmatic API, resolved from the user's project first, then from bulwark's own install. */
export async function loadTsx(cwd: string): Promise<TsxApi | undefined> {
  for (const base of [join(cwd, "package.json"), fileURLToPath(import.meta.url)]) {
    const entry = tsxApiEntry(base);
    if (!entry) continue;
    const api = (await import(pathToFileURL(entry).href)) as Partial<TsxApi>;
    if (typeof api.tsImport === "function") return api as TsxApi;
  }
  return undefined;
}

/** Imports a TypeScript module through tsx. */
export async function importWithTsx(url: string, cwd: string): Promise<Record<string, unknown> | undefined> {
  const tsx = await loadTsx(cwd);
  return tsx?.tsImport(url, { parentURL: pathToFileURL(join(cwd, "bulwark-cli.js")).href });
}

/**
 * Imports the user's module (`--schema ./config.ts`). JavaScript loads natively; TypeScript loads
 * natively when Node can strip its types, otherwise through `tsx` when it is installed.
 */
export async function importUserModule(path: string, cwd: string): Promise<Record<string, unknown>> {
  const file = resolve(cwd, path);
  if (!existsSync(file)) throw new CliUsageError(`no such file: ${path}`);
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (!TYPESCRIPT.test(file)) throw error;
    const viaTsx = await importWithTsx(url, cwd);
    if (viaTsx) return viaTsx;
    throw new CliUsageError(
      `cannot load ${path}: TypeScript needs the "tsx" package (npm install -D tsx) or a Node.js that strips types; or pass compiled JavaScript. (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}
