import { describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { htmlSanitizer, sanitizeHtml } from "./sanitize.js";

describe("sanitizeHtml (default allowlist)", () => {
  it("keeps formatting, lists and safe links, adding rel", () => {
    expect(
      sanitizeHtml('<p>Hi <strong>there</strong> <a href="https://x.test/a" title="t">link</a></p>'),
    ).toBe(
      '<p>Hi <strong>there</strong> <a href="https://x.test/a" title="t" rel="noopener noreferrer nofollow">link</a></p>',
    );
    expect(sanitizeHtml("<ul><li>a</li></ul>")).toBe("<ul><li>a</li></ul>");
  });

  it.each([
    ["<script>alert(1)</script><p>ok</p>", "<p>ok</p>"],
    ['<img src=x onerror="alert(1)">', ""],
    ['<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'],
    ['<a href="JaVaScRiPt:alert(1)">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'],
    ['<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'],
    ['<a href="//evil.test/x">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'],
    ['<p onclick="x()" style="color:red">t</p>', "<p>t</p>"],
    ["<style>body{display:none}</style>text", "text"],
    ['<iframe src="https://evil.test"></iframe>after', "after"],
    ["<svg><script>alert(1)</script></svg>", ""],
    [
      '<a href="https://x.test" target="_blank" rel="opener">x</a>',
      '<a href="https://x.test" rel="noopener noreferrer nofollow">x</a>',
    ],
    ["<div><span>kept text</span></div>", "kept text"],
    ["<xmp><img src=x onerror=alert(1)></xmp>", ""],
  ])("sanitises %s", (dirty, clean) => {
    expect(sanitizeHtml(dirty)).toBe(clean);
  });

  it("escapes text so it cannot open a tag", () => {
    expect(sanitizeHtml("a < b &amp; c > d")).toBe("a &lt; b &amp; c &gt; d");
  });

  it("returns an empty string for a non-string", () => {
    expect(sanitizeHtml(undefined as never)).toBe("");
  });
});

describe("htmlSanitizer options", () => {
  it("keeps only the tags and attributes given", () => {
    const clean = htmlSanitizer({ allowedTags: ["b"], allowedAttributes: {}, linkRel: false });
    expect(clean('<b>x</b><i>y</i><a href="https://x.test">z</a>')).toBe("<b>x</b>yz");
  });

  it("limits schemes", () => {
    const clean = htmlSanitizer({ allowedSchemes: ["https"] });
    expect(clean('<a href="http://x.test">x</a>')).toBe('<a rel="noopener noreferrer nofollow">x</a>');
  });

  it.each([
    [{ allowedTags: ["script"] }, /cannot be allowed/],
    [{ allowedTags: ["svg"] }, /cannot be allowed/],
    [{ allowedAttributes: { a: ["onclick"] } }, /cannot be allowed/],
    [{ allowedAttributes: { p: ["style"] } }, /cannot be allowed/],
    [{ allowedSchemes: ["javascript"] }, /cannot be allowed/],
    [{ allowedSchemes: ["data"] }, /cannot be allowed/],
    [{ allowedTags: ["<b>"] }, /array of names/],
    [{ linkRel: "" }, /non-empty string or false/],
    [{ allowedTag: ["b"] }, /did you mean "allowedTags"/],
  ])("refuses %j", (options, message) => {
    let caught: unknown;
    try {
      htmlSanitizer(options as never);
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    expect(String((caught as Error).message)).toMatch(message);
  });
});
