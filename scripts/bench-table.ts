/**
 * Turns the JSON summary of `npm run bench -- --json` (its last line, read from stdin) into the
 * README's benchmark table: `npm run bench -- --json | npx tsx scripts/bench-table.ts`.
 */

import type { BenchRow } from "../bench/lib.js";
import { human } from "../bench/lib.js";

const input = await new Promise<string>((resolve) => {
  let data = "";
  process.stdin.on("data", (c) => {
    data += c;
  });
  process.stdin.on("end", () => resolve(data));
});
const last = input.trim().split("\n").at(-1) ?? "{}";
const summary = JSON.parse(last) as { rows: BenchRow[] };
const lines = [
  "| suite | case | subject | figure | ratio | target | met |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...summary.rows
    .filter((r) => r.ratio !== undefined || r.pass !== undefined)
    .map(
      (r) =>
        `| ${r.suite} | ${r.case} | ${r.subject} | ${human(r.value)} ${r.unit} | ${r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}×`} | ${r.target ?? ""} | ${r.pass === undefined ? "" : r.pass ? "yes" : "**no**"} |`,
    ),
];
console.log(lines.join("\n"));
