import { parseEnv } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dotenvValue, parseDotenv } from "./dotenv.js";

const values = (text: string) => parseDotenv(text).values;
const problems = (text: string) => parseDotenv(text).problems;

describe("parseDotenv", () => {
  it("reads NAME=value lines, skipping blank lines and comments", () => {
    expect(values("# header\n\nA=1\n  # indented comment\nB=two\n")).toEqual({ A: "1", B: "two" });
  });

  it("accepts export, spaces around = and trims unquoted values", () => {
    expect(values("export A=1\n  B  =  b c  \nexport\tC=3")).toEqual({ A: "1", B: "b c", C: "3" });
  });

  it("handles CRLF and CR line endings and a byte-order mark", () => {
    expect(values("\uFEFFA=1\r\nB=2\rC=3\r\n")).toEqual({ A: "1", B: "2", C: "3" });
  });

  it("keeps empty values as empty strings", () => {
    expect(values("A=\nB=\"\"\nC=''\nD= # only a comment")).toEqual({ A: "", B: "", C: "", D: "" });
  });

  it("ends an unquoted value at # and warns when the # was glued to the value", () => {
    expect(values("A=abc # comment\nB=abc#def")).toEqual({ A: "abc", B: "abc" });
    expect(problems("A=abc # comment\nB=abc#def")).toEqual([
      {
        line: 2,
        severity: "warning",
        message: 'the value of B is cut at "#" (the rest is a comment); quote it if "#" belongs to the value',
      },
    ]);
  });

  it("keeps # inside quotes and allows a comment after the closing quote", () => {
    expect(values("A=\"p#ss\" # note\nB='x#y'\nC=`z#`")).toEqual({ A: "p#ss", B: "x#y", C: "z#" });
    expect(problems('A="p#ss" # note')).toEqual([]);
  });

  it("expands \\n and \\r only inside double quotes, as dotenv does", () => {
    expect(values(String.raw`A="l1\nl2\rx"`).A).toBe("l1\nl2\rx");
    expect(values(String.raw`A='l1\nl2'`).A).toBe(String.raw`l1\nl2`);
    expect(values("A=`l1\\nl2`").A).toBe(String.raw`l1\nl2`);
    expect(values(String.raw`A=l1\nl2`).A).toBe(String.raw`l1\nl2`);
    expect(values(String.raw`A="tab\t"`).A).toBe(String.raw`tab\t`);
  });

  it("lets a backslash-escaped quote stay inside a quoted value, backslash kept", () => {
    expect(values(String.raw`A="say \"hi\""`).A).toBe(String.raw`say \"hi\"`);
    expect(values(String.raw`A='it\'s'`).A).toBe(String.raw`it\'s`);
  });

  it("reads quoted values that span lines and counts lines after them", () => {
    const text = 'KEY="-----BEGIN KEY-----\nabc\n-----END KEY-----"\nB=2\nbroken';
    expect(values(text)).toEqual({ KEY: "-----BEGIN KEY-----\nabc\n-----END KEY-----", B: "2" });
    expect(problems(text)).toEqual([
      { line: 5, severity: "error", message: "expected NAME=value; the line was ignored" },
    ]);
    expect(values("A='one\ntwo'").A).toBe("one\ntwo");
  });

  it("reports an unterminated quote, sets nothing for it and goes on with the next line", () => {
    const result = parseDotenv('A="abc\nB=2\nC=3');
    expect(result.values).toEqual({ B: "2", C: "3" });
    expect(result.problems).toEqual([
      { line: 1, severity: "error", message: "unterminated double-quoted value for A; it was ignored" },
    ]);
    expect(problems("A='x")[0]?.message).toBe("unterminated single-quoted value for A; it was ignored");
    expect(problems("A=`x")[0]?.message).toBe("unterminated backtick-quoted value for A; it was ignored");
  });

  it("warns about text after a closing quote", () => {
    const result = parseDotenv('A="x" y\nB=1');
    expect(result.values).toEqual({ A: "x", B: "1" });
    expect(result.problems).toEqual([
      {
        line: 1,
        severity: "warning",
        message: "text after the closing quote of A is ignored; quote the whole value",
      },
    ]);
  });

  it("reports lines without = and invalid names by line number, never echoing their content", () => {
    const text = "JUSTKEY\nsk_live_pasted_secret_value\n1ABC=x\nA B=y\nexport\nOK=1";
    const result = parseDotenv(text);
    expect(result.values).toEqual({ OK: "1" });
    expect(result.problems.map((p) => [p.line, p.severity])).toEqual([
      [1, "error"],
      [2, "error"],
      [3, "error"],
      [4, "error"],
      [5, "error"],
    ]);
    expect(JSON.stringify(result.problems)).not.toContain("sk_live");
  });

  it("accepts dotted and dashed names", () => {
    expect(values("A.B=1\nA-B=2\n_X=3")).toEqual({ "A.B": "1", "A-B": "2", _X: "3" });
  });

  it("lets the later of two lines for a name win and warns", () => {
    const result = parseDotenv("A=1\nB=x\nA=2");
    expect(result.values).toEqual({ A: "2", B: "x" });
    expect(result.problems).toEqual([
      { line: 3, severity: "warning", message: "A is set again (first on line 1); this later value wins" },
    ]);
  });

  it("stores a __proto__ line as data, never touching the prototype", () => {
    const result = values("__proto__=polluted\nconstructor=x");
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.hasOwn(result, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("agrees with node:util parseEnv on plain and double-quoted single-line values", () => {
    const name = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/);
    const plain = fc.stringMatching(/^[A-Za-z0-9_./:@+,=-]{0,20}$/);
    const quoted = fc.stringMatching(/^[A-Za-z0-9 #'.:=-]{0,20}$/).map((v) => `"${v}"`);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(name, fc.oneof(plain, quoted)), { selector: ([n]) => n }),
        (entries) => {
          const text = entries.map(([n, v]) => `${n}=${v}`).join("\n");
          expect(values(text)).toEqual({ ...parseEnv(text) });
        },
      ),
    );
  });
});

describe("dotenvValue", () => {
  it("writes safe values bare and quotes the rest", () => {
    expect(dotenvValue("postgres://u@h:5432/db")).toBe("postgres://u@h:5432/db");
    expect(dotenvValue("")).toBe("");
    expect(dotenvValue("two words")).toBe("'two words'");
    expect(dotenvValue("it's")).toBe("`it's`");
    expect(dotenvValue("it's `x`\nline")).toBe('"it\'s `x`\\nline"');
    expect(dotenvValue(`'\`"`)).toBeUndefined();
  });

  it("round-trips every value it can write", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 30 }), (value) => {
        const written = dotenvValue(value);
        fc.pre(written !== undefined);
        const result = parseDotenv(`A=${written}\nB=after`);
        expect(result.values).toEqual({ A: value, B: "after" });
      }),
      { numRuns: 500 },
    );
  });
});
