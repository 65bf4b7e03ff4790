import { describe, expect, it } from "vitest";
import { BulwarkError, ERROR_CODES, isBulwarkError } from "./errors.js";
import { boolean, checkKeys, didYouMean, fn, integer, oneOf, string } from "./options.js";
import { problem } from "./problem.js";

function thrown(f: () => unknown): BulwarkError {
  try {
    f();
  } catch (e) {
    if (e instanceof BulwarkError) return e;
    throw e;
  }
  throw new Error("expected a BulwarkError");
}

describe("option validators", () => {
  it("rejects unknown keys with a did-you-mean hint", () => {
    const e = thrown(() => checkKeys("rateLimit", { limts: [] }, ["limits", "store"]));
    expect(e.code).toBe("ERR_CONFIG_INVALID");
    expect(e.message).toBe('rateLimit: unknown option "limts" — did you mean "limits"?');
  });

  it("gives no hint when nothing is close", () => {
    expect(thrown(() => checkKeys("x", { zzzzzz: 1 }, ["limits"])).message).toBe(
      'x: unknown option "zzzzzz"',
    );
    expect(didYouMean("windowMS", ["windowMs", "limit"])).toBe("windowMs");
  });

  it("rejects non-objects", () => {
    expect(thrown(() => checkKeys("x", null, [])).message).toBe("x: expected an options object, got null");
    expect(thrown(() => checkKeys("x", [], [])).message).toBe("x: expected an options object, got an array");
  });

  it("validates integers with bounds and never echoes the value's content for non-numbers", () => {
    expect(integer("x", "windowMs", undefined, 5)).toBe(5);
    expect(thrown(() => integer("x", "windowMs", 1.5, undefined)).message).toBe(
      'x: "windowMs" must be an integer, got a number',
    );
    expect(thrown(() => integer("x", "limit", 0, undefined, { min: 1 })).message).toBe(
      'x: "limit" must be ≥ 1, got 0',
    );
    expect(thrown(() => integer("x", "limit", 11, undefined, { max: 10 })).message).toBe(
      'x: "limit" must be ≤ 10, got 11',
    );
    expect(thrown(() => integer("x", "limit", "secret-value", undefined)).message).not.toContain(
      "secret-value",
    );
    expect(thrown(() => integer("x", "limit", undefined, undefined)).message).toBe('x: "limit" is required');
    expect(thrown(() => integer("x", "limit", Number.NaN, undefined)).message).toBe(
      'x: "limit" must be an integer, got NaN',
    );
  });

  it("validates enumerations with a hint, booleans, strings and functions", () => {
    expect(oneOf("x", "failMode", undefined, ["open", "closed"], "closed")).toBe("closed");
    expect(thrown(() => oneOf("x", "failMode", "clsoed", ["open", "closed"], "closed")).message).toBe(
      'x: "failMode" must be one of "open", "closed" — did you mean "closed"?',
    );
    expect(boolean("x", "b", undefined, true)).toBe(true);
    expect(thrown(() => boolean("x", "b", "yes", true)).code).toBe("ERR_CONFIG_INVALID");
    expect(string("x", "s", undefined, "d")).toBe("d");
    expect(thrown(() => string("x", "s", "", undefined)).message).toBe(
      'x: "s" must be a non-empty string, got a string',
    );
    expect(fn("x", "f", undefined, undefined)).toBeUndefined();
    expect(thrown(() => fn("x", "f", 3, undefined)).message).toBe('x: "f" must be a function, got a number');
  });
});

describe("BulwarkError", () => {
  it("carries a stable code, status and cause", () => {
    const cause = new Error("boom");
    const e = new BulwarkError("ERR_RATELIMIT_STORE_UNAVAILABLE", "store down", { status: 503, cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("BulwarkError");
    expect(e.status).toBe(503);
    expect(e.cause).toBe(cause);
    expect(isBulwarkError(e, "ERR_RATELIMIT_STORE_UNAVAILABLE")).toBe(true);
    expect(isBulwarkError(e, "ERR_CONFIG_INVALID")).toBe(false);
    expect(isBulwarkError(cause)).toBe(false);
  });

  it("documents every code with a sentence", () => {
    for (const [code, text] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^ERR_[A-Z0-9_]+$/);
      expect(text.length).toBeGreaterThan(10);
    }
  });
});

describe("problem", () => {
  it("builds an RFC 9457 problem+json response with no-store", () => {
    const r = problem(429, "ERR_RATELIMIT_EXCEEDED", "Too many requests", [["retry-after", "3"]]);
    expect(r.status).toBe(429);
    expect(r.headers).toEqual([
      ["content-type", "application/problem+json"],
      ["cache-control", "no-store"],
      ["retry-after", "3"],
    ]);
    expect(JSON.parse(r.body as string)).toEqual({
      type: "https://bulwark.dev/errors/ERR_RATELIMIT_EXCEEDED",
      title: "Too many requests",
      status: 429,
      code: "ERR_RATELIMIT_EXCEEDED",
    });
  });
});
