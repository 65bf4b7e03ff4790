import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const CLIENT = fileURLToPath(new URL("./client", import.meta.url));
const CSRF_CLIENT = fileURLToPath(new URL("../src/csrf/client", import.meta.url));
export const CLIENT_DIST = join(CLIENT, "dist");
const STAMP = ".source-hash";

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === "dist" || name.startsWith(".build-") || name.endsWith(".test.ts")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...files(path));
    else out.push(path);
  }
  return out;
}

/** A hash of every input of the client build: sources, index.html, the Vite config, bulwark's client. */
export function clientSourceHash(): string {
  const hash = createHash("sha256");
  for (const file of [...files(CLIENT), ...files(CSRF_CLIENT)]) hash.update(file).update(readFileSync(file));
  return hash.digest("hex");
}

/**
 * Builds the SPA with Vite when app/client/dist is missing or older than its sources (a content
 * hash, not timestamps), so `npm start` on a fresh clone builds once (a few seconds) and later starts
 * skip it. Builds into a private directory and renames it into place; concurrent starters share one
 * build through a lock directory.
 */
export async function ensureClientBuilt(log: (line: string) => void = () => {}): Promise<string> {
  const wanted = clientSourceHash();
  const fresh = () =>
    existsSync(join(CLIENT_DIST, STAMP)) && readFileSync(join(CLIENT_DIST, STAMP), "utf8") === wanted;
  if (fresh()) return CLIENT_DIST;
  const lock = join(CLIENT, ".build-lock");
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another process is building (or died building: a lock older than 2 minutes is taken over).
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (fresh()) return CLIENT_DIST;
    }
  }
  try {
    if (fresh()) return CLIENT_DIST;
    log("building the client with Vite (once, until its sources change) …");
    const started = Date.now();
    const tmp = join(CLIENT, `.build-${process.pid}`);
    const { build } = await import("vite");
    await build({ configFile: join(CLIENT, "vite.config.ts"), build: { outDir: tmp, emptyOutDir: true } });
    writeFileSync(join(tmp, STAMP), wanted);
    rmSync(CLIENT_DIST, { recursive: true, force: true });
    renameSync(tmp, CLIENT_DIST);
    log(`client built in ${Date.now() - started} ms`);
    return CLIENT_DIST;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// `npm run app:build`: build now (a no-op when the build is current).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = await ensureClientBuilt((line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`client ready in ${dir}\n`);
}
