/**
 * Writes docs/errors.md from the ERROR_CODES table (`npx tsx scripts/errors-doc.ts`).
 * test/errors-doc.test.ts fails when the committed file is out of date.
 */
import { writeFileSync } from "node:fs";
import { ERROR_CODES } from "../src/core/errors.js";

export function errorsDoc(): string {
  const rows = Object.entries(ERROR_CODES)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, text]) => `| \`${code}\` | ${text.replace(/\|/g, "\\|")} |`);
  return [
    "# Error codes",
    "",
    "Every error bulwark throws is a `BulwarkError` with one of these stable `code`s, and every HTTP",
    "rejection it answers is `application/problem+json` carrying the code. Match on the code, never on",
    "the message. This file is generated from `src/core/errors.ts` by `npx tsx scripts/errors-doc.ts`.",
    "",
    "| code | meaning |",
    "| --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL("../docs/errors.md", import.meta.url), errorsDoc());
}
