import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeEmail, normalizeText } from "./text.js";

describe("normalizeText", () => {
  it("composes to NFC", () => {
    expect(normalizeText("Cafe\u0301")).toBe("Caf\u00e9");
  });

  it("folds compatibility forms with NFKC", () => {
    expect(normalizeText("\uFF21\uFF22\uFB01", { form: "NFKC" })).toBe("ABfi");
  });

  it("removes control, bidi-override and zero-width characters but keeps joiners", () => {
    expect(normalizeText("a\u0000b\u0007c\u007Fd\u0085e\u202Ef\u2066g\u200Bh\uFEFFi\u2060j")).toBe(
      "abcdefghij",
    );
    const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}";
    expect(normalizeText(family)).toBe(family);
  });

  it("turns CRLF and CR into LF and keeps tabs, or flattens to one line", () => {
    expect(normalizeText("a\r\nb\rc\td")).toBe("a\nb\nc\td");
    expect(normalizeText("a\r\nb\tc", { allowNewlines: false })).toBe("a b c");
  });

  it("trims (Unicode whitespace too) unless told not to", () => {
    expect(normalizeText("\u00A0 hi \u3000")).toBe("hi");
    expect(normalizeText("  hi  ", { trim: false })).toBe("  hi  ");
  });

  it("collapses runs of spaces when asked", () => {
    expect(normalizeText("a   b \t c \n  d", { collapseWhitespace: true })).toBe("a b c\nd");
  });

  it("replaces lone surrogates so the result is encodable", () => {
    expect(normalizeText("a\uD800b\uDC00c")).toBe("a\uFFFDb\uFFFDc");
  });

  it("is idempotent and never leaves control characters", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const once = normalizeText(s);
        expect(normalizeText(once)).toBe(once);
        const forbidden = [...once].filter((ch) => {
          const cp = ch.codePointAt(0) as number;
          return (
            (cp < 0x20 && cp !== 0x09 && cp !== 0x0a) ||
            (cp >= 0x7f && cp <= 0x9f) ||
            (cp >= 0x202a && cp <= 0x202e) ||
            (cp >= 0x2066 && cp <= 0x2069)
          );
        });
        expect(forbidden).toEqual([]);
        expect(() => encodeURIComponent(once)).not.toThrow();
      }),
    );
  });
});

describe("normalizeEmail", () => {
  it.each([
    ["  Ann.Lee+lessons@Example.COM ", "ann.lee+lessons@example.com"],
    ["ann@b\u00FCcher.example", "ann@xn--bcher-kva.example"],
    ["o'brien@x.io", "o'brien@x.io"],
    ["j\u00F6rg@x.de", "j\u00F6rg@x.de"],
    ["jo\u0308rg@x.de", "j\u00F6rg@x.de"],
  ])("normalises %j to %j", (input, email) => {
    expect(normalizeEmail(input)).toEqual({ ok: true, email });
  });

  it("keeps the local part's case when asked", () => {
    expect(normalizeEmail("Ann@X.org", { lowercaseLocalPart: false })).toEqual({
      ok: true,
      email: "Ann@x.org",
    });
  });

  it("does not rewrite provider-specific forms (dots, +tags)", () => {
    expect(normalizeEmail("a.n.n+x@gmail.com")).toEqual({ ok: true, email: "a.n.n+x@gmail.com" });
  });

  it.each([
    "",
    "plainaddress",
    "@x.org",
    "ann@",
    "ann@localhost",
    "ann@x",
    "ann@-x.org",
    "ann@x-.org",
    "ann@x..org",
    "ann@1.2.3.4",
    "ann@[127.0.0.1]",
    ".ann@x.org",
    "ann.@x.org",
    "a..nn@x.org",
    '"ann"@x.org',
    "ann lee@x.org",
    "ann@x .org",
    "ann\n@x.org",
    "ann@x.org\u0000",
    "ann(comment)@x.org",
    `${"a".repeat(65)}@x.org`,
    `a@${"b".repeat(64)}.org`,
    `a@${Array.from({ length: 60 }, () => "abcd").join(".")}.org`,
  ])("refuses %j", (input) => {
    expect(normalizeEmail(input)).toEqual({ ok: false, code: "ERR_EMAIL_INVALID" });
  });

  it("refuses a non-string", () => {
    expect(normalizeEmail(42 as never).ok).toBe(false);
  });
});
