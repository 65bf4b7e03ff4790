/**
 * A dotenv (`.env`) parser that reads files the way the `dotenv` package does, so `bulwark env check`
 * sees the same values the application will, and reports — by line number, never by value — what
 * `dotenv` would silently get wrong or drop.
 *
 * - `NAME=value` per line; `export NAME=value` is accepted; blank lines and `# comments` are skipped.
 * - Names: letters, digits, `_`, `.`, `-`, not starting with a digit, `.` or `-`.
 * - Unquoted values are trimmed and end at the first `#` (which starts a comment).
 * - `'single'` and `` `backtick` `` values are literal; `"double"` values turn `\n` and `\r` into line
 *   breaks. Quoted values may span lines. A quote inside a value may be escaped with a backslash, which is
 *   kept, as in dotenv.
 * - A later line for the same name wins. No `${VAR}` expansion.
 */

export interface DotenvProblem {
  /** 1-based line number where the problem starts. */
  line: number;
  /** `error`: the line was not understood and set nothing. `warning`: a value was set, perhaps not as meant. */
  severity: "error" | "warning";
  message: string;
}

export interface DotenvResult {
  values: Record<string, string>;
  problems: DotenvProblem[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseDotenv(text: string): DotenvResult {
  const src = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const values = new Map<string, string>();
  const setOn = new Map<string, number>();
  const problems: DotenvProblem[] = [];
  let pos = 0;
  let line = 1;

  const restOfLine = (from: number): string => {
    const end = src.indexOf("\n", from);
    return src.slice(from, end === -1 ? src.length : end);
  };
  const skipLine = (from: number): void => {
    const end = src.indexOf("\n", from);
    pos = end === -1 ? src.length : end + 1;
    line++;
  };

  while (pos < src.length) {
    const startLine = line;
    const text = restOfLine(pos);
    const trimmed = text.trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      skipLine(pos);
      continue;
    }
    const lead = text.length - text.trimStart().length;
    let cursor = pos + lead;
    const withoutExport = /^export\s+/.exec(src.slice(cursor, cursor + text.length));
    if (withoutExport) cursor += withoutExport[0].length;
    const eq = src.indexOf("=", cursor);
    const lineEnd = pos + text.length;
    if (eq === -1 || eq > lineEnd) {
      problems.push({
        line: startLine,
        severity: "error",
        message: "expected NAME=value; the line was ignored",
      });
      skipLine(pos);
      continue;
    }
    const name = src.slice(cursor, eq).trim();
    if (!NAME.test(name)) {
      problems.push({
        line: startLine,
        severity: "error",
        message:
          "invalid variable name (letters, digits, _ . - and not starting with a digit); the line was ignored",
      });
      skipLine(pos);
      continue;
    }
    let valueStart = eq + 1;
    while (src[valueStart] === " " || src[valueStart] === "\t") valueStart++;
    const quote = src[valueStart];
    let value: string;

    if (quote === '"' || quote === "'" || quote === "`") {
      let close = valueStart + 1;
      while (close < src.length && src[close] !== quote)
        close += src[close] === "\\" && src[close + 1] === quote ? 2 : 1;
      if (close >= src.length) {
        problems.push({
          line: startLine,
          severity: "error",
          message: `unterminated ${quote === '"' ? "double" : quote === "'" ? "single" : "backtick"}-quoted value for ${name}; it was ignored`,
        });
        skipLine(pos);
        continue;
      }
      const inner = src.slice(valueStart + 1, close);
      value = quote === '"' ? inner.replace(/\\n/g, "\n").replace(/\\r/g, "\r") : inner;
      for (const c of inner) if (c === "\n") line++;
      const after = restOfLine(close + 1);
      if (!/^\s*(?:#.*)?$/.test(after)) {
        problems.push({
          line,
          severity: "warning",
          message: `text after the closing quote of ${name} is ignored; quote the whole value`,
        });
      }
      skipLine(close + 1);
    } else {
      const raw = restOfLine(valueStart);
      const hash = raw.indexOf("#");
      value = (hash === -1 ? raw : raw.slice(0, hash)).trim();
      if (hash > 0 && !/\s/.test(raw[hash - 1]!)) {
        problems.push({
          line: startLine,
          severity: "warning",
          message: `the value of ${name} is cut at "#" (the rest is a comment); quote it if "#" belongs to the value`,
        });
      }
      skipLine(valueStart);
    }

    const previous = setOn.get(name);
    if (previous !== undefined) {
      problems.push({
        line: startLine,
        severity: "warning",
        message: `${name} is set again (first on line ${previous}); this later value wins`,
      });
    }
    values.set(name, value);
    setOn.set(name, startLine);
  }
  return { values: Object.fromEntries(values), problems };
}

const UNQUOTED_SAFE = /^[A-Za-z0-9_./:@+,=-]*$/;

/**
 * Writes `value` so `parseDotenv` (and dotenv) read it back exactly: bare when safe, else in the first
 * quoting that can hold it. Undefined when no dotenv quoting can (a value holding every quote kind).
 */
export function dotenvValue(value: string): string | undefined {
  if (UNQUOTED_SAFE.test(value)) return value;
  const literalOk = !value.includes("\r") && !value.endsWith("\\");
  if (literalOk && !value.includes("'")) return `'${value}'`;
  if (literalOk && !value.includes("`")) return `\`${value}\``;
  if (!value.includes('"') && !value.includes("\\")) {
    return `"${value.replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
  }
  return undefined;
}
