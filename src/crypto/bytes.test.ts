import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromBase64, fromBase64url, fromHex, fromUtf8, toBase64url, toHex } from "./bytes.js";

describe("strict decoders", () => {
  it("base64url round-trips any bytes and refuses every other spelling", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const text = toBase64url(bytes);
        expect(fromBase64url(text)).toEqual(bytes);
        expect(fromBase64url(`${text}=`)).toBeUndefined();
      }),
    );
    expect(fromBase64url("AA")).toEqual(Uint8Array.of(0));
    expect(fromBase64url("AB")).toBeUndefined();
    expect(fromBase64url("AAA")).toEqual(Uint8Array.of(0, 0));
    expect(fromBase64url("AAB")).toBeUndefined();
    expect(fromBase64url("A")).toBeUndefined();
    expect(fromBase64url("AA+/")).toBeUndefined();
    expect(fromBase64url("AA A")).toBeUndefined();
  });

  it("base64 accepts canonical text with or without padding only", () => {
    expect(fromBase64("AAE=")).toEqual(Uint8Array.of(0, 1));
    expect(fromBase64("AAE")).toEqual(Uint8Array.of(0, 1));
    expect(fromBase64("AAF=")).toBeUndefined();
    expect(fromBase64("AA-_")).toBeUndefined();
  });

  it("hex needs an even number of hex digits", () => {
    expect(fromHex("00ff")).toEqual(Uint8Array.of(0, 255));
    expect(toHex(Uint8Array.of(1, 171))).toBe("01ab");
    expect(fromHex("0")).toBeUndefined();
    expect(fromHex("zz")).toBeUndefined();
  });

  it("UTF-8 decoding refuses invalid sequences", () => {
    expect(fromUtf8(Uint8Array.of(0xe2, 0x82, 0xac))).toBe("€");
    expect(fromUtf8(Uint8Array.of(0xff))).toBeUndefined();
  });
});
