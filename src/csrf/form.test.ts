import { describe, expect, it } from "vitest";
import { formEncoding, readFormField } from "./form.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("form field reading", () => {
  it("recognises only urlencoded and multipart (with a boundary) form encodings", () => {
    expect(formEncoding("application/x-www-form-urlencoded")).toEqual({ kind: "urlencoded" });
    expect(formEncoding("Application/X-WWW-Form-Urlencoded; charset=utf-8")).toEqual({ kind: "urlencoded" });
    expect(formEncoding("multipart/form-data; boundary=abc")).toEqual({ kind: "multipart", boundary: "abc" });
    expect(formEncoding('multipart/form-data; charset=x; boundary="a b"')).toEqual({
      kind: "multipart",
      boundary: "a b",
    });
    expect(formEncoding("multipart/form-data")).toBeUndefined();
    expect(formEncoding("application/json")).toBeUndefined();
    expect(formEncoding("text/plain")).toBeUndefined();
    expect(formEncoding(undefined)).toBeUndefined();
  });

  it("reads the first urlencoded value, decoded", () => {
    const enc = { kind: "urlencoded" } as const;
    expect(readFormField(bytes("a=1&_csrf=t%2Dx&_csrf=second"), enc, "_csrf")).toBe("t-x");
    expect(readFormField(bytes("a=1"), enc, "_csrf")).toBeUndefined();
    expect(readFormField(bytes("x_csrf=1"), enc, "_csrf")).toBeUndefined();
  });

  it("reads a multipart field as a browser encodes it, skipping file parts of the same name", () => {
    const body = [
      "preamble",
      "--XyZ",
      'Content-Disposition: form-data; name="_csrf"; filename="a.txt"',
      "",
      "file content",
      "--XyZ",
      "content-disposition: form-data; name=other",
      "",
      "value",
      "--XyZ",
      'Content-Disposition: form-data; name="_csrf"',
      "",
      "the-token",
      "--XyZ--",
      "",
    ].join("\r\n");
    const enc = { kind: "multipart", boundary: "XyZ" } as const;
    expect(readFormField(bytes(body), enc, "_csrf")).toBe("the-token");
    expect(readFormField(bytes(body), enc, "other")).toBe("value");
    expect(readFormField(bytes(body), enc, "missing")).toBeUndefined();
    expect(readFormField(bytes(body), enc, "a.txt")).toBeUndefined();
  });

  it("gives up on truncated or unterminated multipart bodies", () => {
    const enc = { kind: "multipart", boundary: "b" } as const;
    expect(
      readFormField(bytes('--b\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\nvalue'), enc, "_csrf"),
    ).toBe(undefined);
    expect(
      readFormField(bytes('--b\r\nContent-Disposition: form-data; name="_csrf"'), enc, "_csrf"),
    ).toBeUndefined();
    expect(readFormField(bytes("--b--\r\n"), enc, "_csrf")).toBeUndefined();
    expect(readFormField(bytes(""), enc, "_csrf")).toBeUndefined();
  });
});
