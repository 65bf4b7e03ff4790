import type { ConfigProblem } from "./define.js";
import { printable } from "./values.js";

const EXPECTED_WIDTH = 64;

/** Splits text into lines of at most `width` characters at spaces (longer words stay whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines;
}

/**
 * The readable report of every problem: one row per problem, columns VARIABLE / EXPECTED / RECEIVED,
 * long expectations wrapped. Contains no secret value, so it is safe for stderr and logs.
 */
export function formatProblems(problems: readonly ConfigProblem[], production: boolean): string {
  const rows = problems.map((p) => ({
    variable: printable(p.variable),
    expected: wrap(printable(p.expected), EXPECTED_WIDTH),
    received: printable(p.received),
  }));
  const headers = { variable: "VARIABLE", expected: "EXPECTED", received: "RECEIVED" };
  const w1 = Math.max(headers.variable.length, ...rows.map((r) => r.variable.length));
  const w2 = Math.max(headers.expected.length, ...rows.flatMap((r) => r.expected.map((l) => l.length)));
  const line = (a: string, b: string, c: string) => `  ${a.padEnd(w1)}  ${b.padEnd(w2)}  ${c}`.trimEnd();
  const count = `${problems.length} problem${problems.length === 1 ? "" : "s"}`;
  const out = [
    `Invalid environment: ${count}${production ? " (production rules on: NODE_ENV=production)" : ""}`,
    "",
    line(headers.variable, headers.expected, headers.received),
    line("─".repeat(w1), "─".repeat(w2), "─".repeat(headers.received.length)),
  ];
  for (const row of rows) {
    row.expected.forEach((text, i) => {
      out.push(i === 0 ? line(row.variable, text, row.received) : line("", text, ""));
    });
  }
  out.push("", "Secret values are never shown. Fix the variables above, then start again.");
  return out.join("\n");
}
