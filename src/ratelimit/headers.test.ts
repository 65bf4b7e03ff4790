import { describe, expect, it } from "vitest";
import { formatRateLimit, formatRateLimitPolicy, retryAfterSeconds, sfString } from "./headers.js";

/** Structured-field List members as serialised (RFC 8941 §4.1.1 joins members with ", "). */
const members = (value: string) => value.split(/,\s*/);
/** The draft's examples separate members with a bare ","; both parse to the same List. */
const sameList = (a: string, b: string) => expect(members(a)).toEqual(members(b));

describe("RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers)", () => {
  it("serialises the draft's single-policy example exactly", () => {
    // §3.2: RateLimit-Policy: "default";q=100;w=10
    expect(formatRateLimitPolicy([{ name: "default", limit: 100, windowMs: 10_000 }])).toBe(
      '"default";q=100;w=10',
    );
  });

  it("serialises the draft's multi-policy examples as the same List", () => {
    // §3.2: RateLimit-Policy: "permin";q=50;w=60,"perhr";q=1000;w=3600
    const value = formatRateLimitPolicy([
      { name: "permin", limit: 50, windowMs: 60_000 },
      { name: "perhr", limit: 1000, windowMs: 3_600_000 },
    ]);
    expect(value).toBe('"permin";q=50;w=60, "perhr";q=1000;w=3600');
    sameList(value, '"permin";q=50;w=60,"perhr";q=1000;w=3600');
    // §3: RateLimit-Policy: "burst";q=100;w=60,"daily";q=1000;w=86400
    sameList(
      formatRateLimitPolicy([
        { name: "burst", limit: 100, windowMs: 60_000 },
        { name: "daily", limit: 1000, windowMs: 86_400_000 },
      ]),
      '"burst";q=100;w=60,"daily";q=1000;w=86400',
    );
  });

  it("omits w when the window is not a whole number of seconds (no sub-second precision)", () => {
    expect(formatRateLimitPolicy([{ name: "fast", limit: 5, windowMs: 500 }])).toBe('"fast";q=5');
    expect(formatRateLimitPolicy([{ name: "odd", limit: 5, windowMs: 1500 }])).toBe('"odd";q=5');
  });
});

describe("RateLimit (draft-ietf-httpapi-ratelimit-headers)", () => {
  it("serialises the draft's example exactly", () => {
    // §4: RateLimit: "default";r=50;t=30
    expect(formatRateLimit([{ name: "default", remaining: 50, resetMs: 30_000 }])).toBe(
      '"default";r=50;t=30',
    );
  });

  it("rounds the effective window up to whole seconds and never reports a negative quota", () => {
    expect(
      formatRateLimit([
        { name: "a", remaining: 0, resetMs: 1 },
        { name: "b", remaining: 3, resetMs: 0 },
        { name: "c", remaining: -2, resetMs: 1001 },
      ]),
    ).toBe('"a";r=0;t=1, "b";r=3;t=0, "c";r=0;t=2');
  });

  it("caps t so that no effective window ends after Retry-After", () => {
    expect(formatRateLimit([{ name: "day", remaining: 0, resetMs: 86_400_000 }], 7)).toBe('"day";r=0;t=7');
  });
});

describe("sf-string", () => {
  it("quotes and escapes backslash and double quote", () => {
    expect(sfString('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  it("refuses characters outside printable ASCII", () => {
    expect(() => sfString("é")).toThrow(RangeError);
    expect(() => sfString("a\nb")).toThrow(RangeError);
  });
});

describe("Retry-After", () => {
  it("is whole seconds, rounded up, at least 1", () => {
    expect([0, 1, 999, 1000, 1001, 59_500].map(retryAfterSeconds)).toEqual([1, 1, 1, 1, 2, 60]);
  });
});
