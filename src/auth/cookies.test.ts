import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import { viewFromParts } from "../core/request.js";
import { clearCookie, parseCookies, readCookie, serializeCookie, sessionCookie } from "./cookies.js";
import { randomToken } from "./secrets.js";

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return isBulwarkError(error) ? error.code : "not a BulwarkError";
  }
  return undefined;
}

describe("serializeCookie", () => {
  it("sets Path=/, Secure, HttpOnly and SameSite=Strict by default", () => {
    expect(serializeCookie("__Host-refresh", "abc")).toBe(
      "__Host-refresh=abc; Path=/; Secure; HttpOnly; SameSite=Strict",
    );
  });

  it("writes Max-Age, Domain, SameSite and Partitioned when asked", () => {
    expect(
      serializeCookie("pref", "v1", {
        maxAgeSeconds: 3600,
        domain: "example.com",
        sameSite: "None",
        partitioned: true,
      }),
    ).toBe("pref=v1; Max-Age=3600; Domain=example.com; Path=/; Secure; HttpOnly; SameSite=None; Partitioned");
  });

  it("refuses a __Host- cookie with a Domain, another Path or without Secure", () => {
    expect(code(() => serializeCookie("__Host-a", "v", { domain: "example.com" }))).toBe(
      "ERR_COOKIE_INVALID",
    );
    expect(code(() => serializeCookie("__Host-a", "v", { path: "/auth" }))).toBe("ERR_COOKIE_INVALID");
    expect(code(() => serializeCookie("__Host-a", "v", { dangerouslyAllowInsecure: true }))).toBe(
      "ERR_COOKIE_INVALID",
    );
    // The prefix is matched case-insensitively, as browsers do.
    expect(code(() => serializeCookie("__host-a", "v", { path: "/x" }))).toBe("ERR_COOKIE_INVALID");
  });

  it("refuses a __Secure- cookie without Secure and SameSite=None without Secure", () => {
    expect(code(() => serializeCookie("__Secure-a", "v", { dangerouslyAllowInsecure: true }))).toBe(
      "ERR_COOKIE_INVALID",
    );
    expect(code(() => serializeCookie("a", "v", { sameSite: "None", dangerouslyAllowInsecure: true }))).toBe(
      "ERR_COOKIE_INVALID",
    );
  });

  it("drops Secure and HttpOnly only through the dangerously… options", () => {
    expect(
      serializeCookie("dev", "v", { dangerouslyAllowInsecure: true, dangerouslyAllowScriptAccess: true }),
    ).toBe("dev=v; Path=/; SameSite=Strict");
  });

  it("refuses names that are not tokens and values that are not cookie-octets (no header injection)", () => {
    for (const name of ["", "a b", "a;b", "a=b", "ä", "a\r\nSet-Cookie: x"]) {
      expect(
        code(() => serializeCookie(name, "v")),
        JSON.stringify(name),
      ).toBe("ERR_COOKIE_INVALID");
    }
    for (const value of ["a b", "a;b", 'a"b', "a,b", "a\\b", "a\r\nb", "é"]) {
      expect(
        code(() => serializeCookie("n", value)),
        JSON.stringify(value),
      ).toBe("ERR_COOKIE_INVALID");
    }
    expect(code(() => serializeCookie("n", "v", { path: "/a;Domain=evil.example" }))).toBe(
      "ERR_COOKIE_INVALID",
    );
    expect(code(() => serializeCookie("n", "v", { domain: "evil.example; Secure" }))).toBe(
      "ERR_COOKIE_INVALID",
    );
    expect(code(() => serializeCookie("n", "v", { maxAgeSeconds: -1 }))).toBe("ERR_COOKIE_INVALID");
    expect(code(() => serializeCookie("n", "v", { maxAgeSeconds: 1.5 }))).toBe("ERR_COOKIE_INVALID");
    expect(code(() => serializeCookie("n", "v", { sameSite: "strict" as never }))).toBe("ERR_COOKIE_INVALID");
    expect(code(() => serializeCookie("n", "v", { httpOnly: false } as never))).toBe("ERR_COOKIE_INVALID");
    expect(code(() => serializeCookie("n", "x".repeat(4096)))).toBe("ERR_COOKIE_INVALID");
  });

  it("deletes with the same attributes, an empty value and Max-Age=0", () => {
    expect(clearCookie("__Host-refresh")).toBe(
      "__Host-refresh=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict",
    );
  });
});

describe("parseCookies / readCookie", () => {
  it("parses name=value pairs, trims spaces, unquotes values and keeps the first duplicate", () => {
    const m = parseCookies(' a=1;b = 2 ; c="3"; a=shadow; novalue; =x; d=e=f');
    expect([...m]).toEqual([
      ["a", "1"],
      ["b", "2"],
      ["c", "3"],
      ["d", "e=f"],
    ]);
  });

  it("returns an empty map for a missing header and ignores names like __proto__ safely", () => {
    expect(parseCookies(undefined).size).toBe(0);
    const m = parseCookies("__proto__=x; constructor=y");
    expect(m.get("__proto__")).toBe("x");
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it("reads one cookie from a request view", () => {
    const view = viewFromParts({ headers: { cookie: "__Host-refresh=tok; other=1" } });
    expect(readCookie(view, "__Host-refresh")).toBe("tok");
    expect(readCookie(view, "missing")).toBeUndefined();
  });

  it("round-trips any random token through serialize and parse", () => {
    fc.assert(
      fc.property(fc.constant(null), () => {
        const token = randomToken();
        const header = serializeCookie("__Host-t", token).split(";")[0] as string;
        expect(parseCookies(header).get("__Host-t")).toBe(token);
      }),
      { numRuns: 50 },
    );
  });
});

describe("sessionCookie", () => {
  it("defaults to __Host-session, Strict, no Max-Age", () => {
    const c = sessionCookie();
    expect(c.name).toBe("__Host-session");
    expect(c.serialize("tok")).toBe("__Host-session=tok; Path=/; Secure; HttpOnly; SameSite=Strict");
    expect(c.clear()).toBe("__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict");
    expect(c.read(viewFromParts({ headers: { cookie: "__Host-session=tok" } }))).toBe("tok");
  });

  it("uses the configured lifetime, or one given per call", () => {
    const c = sessionCookie({ name: "__Host-refresh", maxAgeSeconds: 1_209_600 });
    expect(c.serialize("t")).toBe(
      "__Host-refresh=t; Max-Age=1209600; Path=/; Secure; HttpOnly; SameSite=Strict",
    );
    expect(c.serialize("t", 60)).toContain("Max-Age=60;");
  });

  it("fails at construction with ERR_CONFIG_INVALID for a __Host- name with a Domain or Path", () => {
    expect(code(() => sessionCookie({ domain: "example.com" }))).toBe("ERR_CONFIG_INVALID");
    expect(code(() => sessionCookie({ path: "/auth" }))).toBe("ERR_CONFIG_INVALID");
    expect(code(() => sessionCookie({ name: "__Host-x", dangerouslyAllowInsecure: true }))).toBe(
      "ERR_CONFIG_INVALID",
    );
    expect(code(() => sessionCookie({ nmae: "x" } as never))).toBe("ERR_CONFIG_INVALID");
    expect(code(() => sessionCookie({ sameSite: "lax" as never }))).toBe("ERR_CONFIG_INVALID");
  });

  it("allows a scoped, non-prefixed cookie and warns once when Secure is dropped", () => {
    const logger = memoryLogger();
    const c = sessionCookie({ name: "refresh", path: "/auth", dangerouslyAllowInsecure: true, logger });
    expect(c.serialize("t")).toBe("refresh=t; Path=/auth; HttpOnly; SameSite=Strict");
    expect(logger.entries.filter((e) => e.level === "warn")).toHaveLength(1);
  });

  it("refuses a value that is not cookie-octets at serialize time", () => {
    expect(code(() => sessionCookie().serialize("a b"))).toBe("ERR_COOKIE_INVALID");
  });
});
