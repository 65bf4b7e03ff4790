import { describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { createRedactor, normalizeKey, REDACTED } from "./redact.js";

const r = createRedactor();

describe("key matching", () => {
  it("matches built-in names case-insensitively with - _ . and spaces ignored", () => {
    for (const key of [
      "password",
      "PASSWORD",
      "Pass_Word",
      "passwd",
      "access_token",
      "Access-Token",
      "refreshToken",
      "Authorization",
      "cookie",
      "Set-Cookie",
      "ssn",
      "card_number",
      "cardNumber",
      "CARD-NUMBER",
      "cvv",
      "api_key",
      "X-Api-Key",
      "private_key",
      "client.secret",
      "secret",
      "token",
    ]) {
      expect(r.isSensitiveKey(key), key).toBe(true);
    }
  });

  it("matches compound names by their sensitive ending", () => {
    for (const key of ["dbPassword", "stripe_secret_key", "githubToken", "employeeSSN", "webhookSignature"]) {
      expect(r.isSensitiveKey(key), key).toBe(true);
    }
  });

  it("leaves ordinary names alone", () => {
    for (const key of ["code", "name", "email", "status", "tokenCount", "secretary", "keyId", "cardBrand"]) {
      expect(r.isSensitiveKey(key), key).toBe(false);
    }
  });

  it("normalises keys by lower-casing and dropping separators", () => {
    expect(normalizeKey("X-Api_Key.v 2")).toBe("xapikeyv2");
  });

  it("accepts extra key names", () => {
    const custom = createRedactor({ keys: ["Student-Grade"] });
    expect(custom.redact({ studentGrade: "A", grade: "B" })).toEqual({ studentGrade: REDACTED, grade: "B" });
  });
});

describe("redact", () => {
  it("redacts at any depth and inside arrays", () => {
    const input = {
      a: [{ b: { c: [{ password: "p1" }, { ok: 1, nested: { Token: { deep: "t1" } } }] } }],
      headers: { authorization: "Bearer abc", cookie: "sid=1", "set-cookie": ["a=1", "b=2"] },
    };
    expect(r.redact(input)).toEqual({
      a: [{ b: { c: [{ password: REDACTED }, { ok: 1, nested: { Token: REDACTED } }] } }],
      headers: { authorization: REDACTED, cookie: REDACTED, "set-cookie": REDACTED },
    });
  });

  it("redacts non-string values under a sensitive key (numbers, objects, arrays, null)", () => {
    expect(r.redact({ cardNumber: 4111111111111111, secret: { a: 1 }, token: ["x"], cvv: null })).toEqual({
      cardNumber: REDACTED,
      secret: REDACTED,
      token: REDACTED,
      cvv: REDACTED,
    });
  });

  it("returns the same reference, without copying, when nothing matches", () => {
    const input = { a: { b: [1, 2, { c: "plain text", d: "https://x.test/path?page=2" }] }, e: null };
    expect(r.redact(input)).toBe(input);
  });

  it("never mutates the input", () => {
    const input = { user: { password: "p", name: "n" }, list: [{ token: "t" }] };
    const snapshot = structuredClone(input);
    const out = r.redact(input);
    expect(input).toEqual(snapshot);
    expect(out).not.toBe(input);
    // Untouched branches are shared, not copied.
    const shared = { keep: { x: 1 }, password: "p" };
    expect(r.redact(shared).keep).toBe(shared.keep);
  });

  it("replaces a circular reference instead of recursing forever", () => {
    const a: Record<string, unknown> = { password: "p" };
    a.self = a;
    expect(r.redact(a)).toEqual({ password: REDACTED, self: "[Circular]" });
  });

  it("walks objects shared by several branches once and keeps both redacted", () => {
    const shared = { token: "t" };
    expect(r.redact({ a: shared, b: shared })).toEqual({ a: { token: REDACTED }, b: { token: REDACTED } });
  });

  it("censors anything deeper than maxDepth", () => {
    const shallow = createRedactor({ maxDepth: 3 });
    expect(shallow.redact({ a: { b: { c: { d: 1 } } } })).toEqual({ a: { b: { c: REDACTED } } });
  });

  it("redacts what toJSON exposes (URL objects)", () => {
    const out = r.redact({ link: new URL("https://x.test/reset?token=abc123&lang=en") });
    expect(out).toEqual({ link: `https://x.test/reset?token=${REDACTED}&lang=en` });
  });

  it("keeps a __proto__ key as data without touching the prototype", () => {
    const input = JSON.parse('{"__proto__":{"polluted":true},"password":"p"}');
    const out = r.redact(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("serialises errors with redacted message, stack, properties and cause", () => {
    const cause = new Error("upstream said token=abc");
    const error = Object.assign(new Error("connect postgres://app:hunter22@db/prod failed", { cause }), {
      code: "ECONNREFUSED",
      config: { headers: { Authorization: "Bearer abcdefghij" } },
    });
    const out = r.serializeError(error) as Record<string, unknown>;
    expect(out.type).toBe("Error");
    expect(out.message).toBe(`connect postgres://app:${REDACTED}@db/prod failed`);
    expect(String(out.stack)).not.toContain("hunter22");
    expect(out.code).toBe("ECONNREFUSED");
    expect(out.config).toEqual({ headers: { Authorization: REDACTED } });
    expect((out.cause as Record<string, unknown>).message).toBe(`upstream said token=${REDACTED}`);
  });
});

describe("string scrubbing", () => {
  it.each([
    ["https://x.test/cb?code=abc&state=s1", `https://x.test/cb?code=${REDACTED}&state=s1`],
    ["/reset?token=abc#top", `/reset?token=${REDACTED}#top`],
    ["/cb#access_token=abc&token_type=bearer", `/cb#access_token=${REDACTED}&token_type=bearer`],
    [
      "https://b.s3.amazonaws.com/k?X-Amz-Signature=ff00&X-Amz-Credential=AK%2F1&X-Amz-Date=1",
      `https://b.s3.amazonaws.com/k?X-Amz-Signature=${REDACTED}&X-Amz-Credential=${REDACTED}&X-Amz-Date=1`,
    ],
    ["/hook?signature=abc;sig=def", `/hook?signature=${REDACTED};sig=${REDACTED}`],
    ["page=2&api_key=abc", `page=2&api_key=${REDACTED}`],
    ["/login?Password=pw&user=u", `/login?Password=${REDACTED}&user=u`],
    ["/maps?key=AIzaSy123", `/maps?key=${REDACTED}`],
    ["retry with token=abc later", `retry with token=${REDACTED} later`],
    ["redis://:s3cretpass@cache:6379/0", `redis://:${REDACTED}@cache:6379/0`],
    ["postgres://app:pw@db/prod", `postgres://app:${REDACTED}@db/prod`],
    ["Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", `Authorization: Bearer ${REDACTED}`],
    ["Authorization: Basic dXNlcjpwYXNzd29yZA==", `Authorization: Basic ${REDACTED}`],
    ['{"user":"u","password":"p w\\"x","n":1}', `{"user":"u","password":"${REDACTED}","n":1}`],
    ['{"card_number": 4111111111111111}', `{"card_number": "${REDACTED}"}`],
  ])("scrubs %s", (input, expected) => {
    expect(r.scrubString(input)).toBe(expected);
  });

  it.each([
    "process exited with code=1",
    "https://x.test/search?q=token&page=2",
    "Basic subscription plan",
    "plain text without parameters",
    "/path?code=",
  ])("leaves %s unchanged (same string)", (input) => {
    expect(r.scrubString(input)).toBe(input);
  });

  it("scrubs configured secrets verbatim and URL-encoded", () => {
    const s = createRedactor({ secrets: ["s3cr3t/value+1"] });
    expect(s.scrubString("key s3cr3t/value+1 and s3cr3t%2Fvalue%2B1")).toBe(
      `key ${REDACTED} and ${REDACTED}`,
    );
    expect(s.redact({ note: "uses s3cr3t/value+1" })).toEqual({ note: `uses ${REDACTED}` });
  });

  it("scrubs secrets in their JSON-escaped form from a serialised line", () => {
    const s = createRedactor({ secrets: ['quo"te\\secret'] });
    const line = JSON.stringify({ k: 'x quo"te\\secret y' });
    expect(s.scrubSerialized(line)).toBe(JSON.stringify({ k: `x ${REDACTED} y` }));
    expect(s.scrubSerialized('{"a":1}')).toBe('{"a":1}');
  });

  it("scrubs the longer of two overlapping secrets whole", () => {
    const s = createRedactor({ secrets: ["abcdef", "abcdefghij"] });
    expect(s.scrubString("abcdefghij")).toBe(REDACTED);
  });
});

describe("createRedactor options", () => {
  it.each([
    [{ secrets: ["short"] }, /at least 6/],
    [{ secrets: "not-a-list" }, /array of non-empty strings/],
    [{ keys: [""] }, /array of non-empty strings/],
    [{ censor: "" }, /non-empty string/],
    [{ maxDepth: 0 }, /≥ 1/],
    [{ secret: ["x"] }, /did you mean "secrets"/],
  ])("refuses %j", (options, message) => {
    let caught: unknown;
    try {
      createRedactor(options as never);
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    expect(String((caught as Error).message)).toMatch(message);
  });

  it("uses a custom censor", () => {
    expect(createRedactor({ censor: "***" }).redact({ token: "t" })).toEqual({ token: "***" });
  });
});
