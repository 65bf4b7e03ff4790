import { describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import type { ContinueOutcome, RespondOutcome } from "../core/outcome.js";
import { viewFromParts } from "../core/request.js";
import { parseParams, queryGuard } from "./params.js";

describe("parseParams", () => {
  it("parses single values into a prototype-less object", () => {
    const d = parseParams("?a=1&b=two+words&c=%C3%A9");
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect({ ...d.params }).toEqual({ a: "1", b: "two words", c: "é" });
    expect(Object.getPrototypeOf(d.params)).toBeNull();
  });

  it("refuses a repeated name that is not declared as an array", () => {
    expect(parseParams("role=user&role=admin")).toEqual({
      ok: false,
      code: "ERR_PARAM_DUPLICATE",
      name: "role",
    });
  });

  it("collapses a repeat to the first or last value when configured", () => {
    expect(parseParams("role=user&role=admin", { duplicates: "first" })).toMatchObject({
      ok: true,
      params: { role: "user" },
    });
    expect(parseParams("role=user&role=admin", { duplicates: "last" })).toMatchObject({
      ok: true,
      params: { role: "admin" },
    });
  });

  it("returns declared arrays as arrays, even with one value or none", () => {
    const d = parseParams("tag=a&tag=b&x=1", { arrays: ["tag", "ids"] });
    expect(d).toMatchObject({ ok: true, params: { tag: ["a", "b"], x: "1" } });
    expect(parseParams("tag=a", { arrays: ["tag"] })).toMatchObject({ ok: true, params: { tag: ["a"] } });
    if (d.ok) expect(d.params.ids).toBeUndefined();
  });

  it("treats tag[] as its own literal name", () => {
    expect(parseParams("tag[]=a&tag[]=b")).toEqual({ ok: false, code: "ERR_PARAM_DUPLICATE", name: "tag[]" });
    expect(parseParams("tag[]=a&tag[]=b", { arrays: ["tag[]"] })).toMatchObject({
      ok: true,
      params: { "tag[]": ["a", "b"] },
    });
  });

  it.each(["__proto__", "constructor", "prototype", "%5F%5Fproto%5F%5F"])("refuses the name %s", (name) => {
    expect(parseParams(`${name}=x`)).toMatchObject({ ok: false, code: "ERR_PARAM_FORBIDDEN_NAME" });
  });

  it("refuses more than maxParams parameters", () => {
    expect(parseParams("a=1&b=2&c=3", { maxParams: 2 })).toEqual({ ok: false, code: "ERR_PARAM_TOO_MANY" });
    expect(parseParams("a=1&b=2", { maxParams: 2 }).ok).toBe(true);
  });

  it("parses an empty input to an empty object", () => {
    expect(parseParams("")).toMatchObject({ ok: true, params: {} });
  });

  it.each([
    [{ duplicates: "merge" }, /must be one of/],
    [{ arrays: "tag" }, /array of parameter names/],
    [{ arrays: ["__proto__"] }, /cannot declare/],
    [{ maxParams: 0 }, /≥ 1/],
    [{ array: ["x"] }, /did you mean "arrays"/],
  ])("refuses %j", (options, message) => {
    let caught: unknown;
    try {
      parseParams("", options as never);
    } catch (error) {
      caught = error;
    }
    expect(isBulwarkError(caught, "ERR_CONFIG_INVALID")).toBe(true);
    expect(String((caught as Error).message)).toMatch(message);
  });
});

describe("queryGuard", () => {
  const guard = queryGuard({ arrays: ["tag"] });

  it("puts the parsed query in locals.query", () => {
    const out = guard(viewFromParts({ url: "/lessons?tag=a&tag=b&level=2" })) as ContinueOutcome;
    expect(out.action).toBe("continue");
    expect({ ...(out.locals?.query as object) }).toEqual({ tag: ["a", "b"], level: "2" });
  });

  it("answers 400 problem+json with the code and without echoing the name", () => {
    const out = guard(viewFromParts({ url: "/lessons?level=1&level=9" })) as RespondOutcome;
    expect(out.status).toBe(400);
    expect(out.headers).toContainEqual(["content-type", "application/problem+json"]);
    const body = JSON.parse(String(out.body));
    expect(body).toMatchObject({
      status: 400,
      code: "ERR_PARAM_DUPLICATE",
      title: "A parameter was repeated",
    });
    expect(String(out.body)).not.toContain("level");
  });

  it.each([
    ["/x?a=1&__proto__=1", "ERR_PARAM_FORBIDDEN_NAME"],
    [`/x?${Array.from({ length: 257 }, (_, i) => `p${i}=1`).join("&")}`, "ERR_PARAM_TOO_MANY"],
  ])("refuses %s with %s", (url, code) => {
    const out = refuse(url);
    expect(out.status).toBe(400);
    expect(JSON.parse(String(out.body)).code).toBe(code);
  });

  function refuse(url: string) {
    return queryGuard()(viewFromParts({ url })) as RespondOutcome;
  }

  it("lets a URL without a query through with an empty query", () => {
    const out = guard(viewFromParts({ url: "/lessons" })) as ContinueOutcome;
    expect(out.action).toBe("continue");
    expect({ ...(out.locals?.query as object) }).toEqual({});
  });
});
