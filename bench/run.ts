/**
 * `npm run bench [-- <suite>...] [--json] [--quick]`
 * Runs every `bench/*.bench.ts` suite (or the named ones; `ratelimit` also selects `ratelimit-redis`, …), prints a table, and with `--json` prints a
 * JSON summary as the last line of output.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BenchRow, type BenchSuite, human } from "./lib.js";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes("--json");
const quick = args.includes("--quick");
const wanted = args.filter((a) => !a.startsWith("--"));

const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .sort();
const suites: BenchSuite[] = [];
for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { suite: BenchSuite };
  const name = mod.suite.name;
  if (wanted.length === 0 || wanted.some((w) => name === w || name.startsWith(`${w}-`)))
    suites.push(mod.suite);
}
if (suites.length === 0) {
  console.error(
    `no bench suite matches ${wanted.join(", ")}; have: ${files.map((f) => f.replace(".bench.ts", "")).join(", ")}`,
  );
  process.exit(2);
}

const rows: BenchRow[] = [];
for (const suite of suites) {
  console.log(`\n# ${suite.name}`);
  const got = await suite.run({ quick });
  rows.push(...got);
  const header = ["case", "subject", "value", "ratio", "target", "pass"];
  const table = got.map((r) => [
    r.case,
    r.subject,
    `${human(r.value)} ${r.unit}`,
    r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}×`,
    r.target ?? "",
    r.pass === undefined ? "" : r.pass ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(fmt(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of table) console.log(fmt(row));
}

if (json) {
  const targets = rows.filter((r) => r.pass !== undefined);
  console.log(
    JSON.stringify({
      machine: { node: process.version, cpus: (await import("node:os")).cpus().length },
      targets: { total: targets.length, met: targets.filter((r) => r.pass).length },
      rows,
    }),
  );
}
