import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ContinueOutcome, Outcome, RespondOutcome } from "../core/outcome.js";
import { viewFromParts } from "../core/request.js";
import { type CorsOptions, cors } from "./cors.js";
import { compileOrigins } from "./origins.js";

const APP = "https://app.example.com";
const run = (options: CorsOptions, parts: Parameters<typeof viewFromParts>[0]): Outcome =>
  cors(options)(viewFromParts(parts)) as Outcome;
const preflight = (origin: string, method = "PUT", extra: Record<string, string> = {}) => ({
  method: "OPTIONS",
  url: "/api/items",
  headers: { origin, "access-control-request-method": method, ...extra },
});

const REFUSED_HEADERS = [
  ["content-type", "application/problem+json"],
  ["cache-control", "no-store"],
  ["vary", "Origin"],
];

function expectRefused(outcome: Outcome): void {
  const r = outcome as RespondOutcome;
  expect(r.action).toBe("respond");
  expect(r.status).toBe(403);
  expect(r.headers).toEqual(REFUSED_HEADERS);
  expect(JSON.parse(String(r.body))).toMatchObject({ status: 403, code: "ERR_CORS_PREFLIGHT_REJECTED" });
}

describe("cors actual requests", () => {
  it("allows a listed origin with its exact value, the default exposed headers and Vary", () => {
    const outcome = run({ origins: [APP] }, { method: "POST", headers: { origin: APP } });
    expect(outcome).toEqual({
      action: "continue",
      headers: [
        ["access-control-allow-origin", APP],
        ["access-control-expose-headers", "RateLimit, RateLimit-Policy, Retry-After"],
        ["vary", "Origin"],
      ],
    });
  });

  it("adds Allow-Credentials when credentials are on", () => {
    const outcome = run({ origins: APP, credentials: true }, { headers: { origin: APP } }) as ContinueOutcome;
    expect(outcome.headers).toEqual([
      ["access-control-allow-origin", APP],
      ["access-control-allow-credentials", "true"],
      ["access-control-expose-headers", "RateLimit, RateLimit-Policy, Retry-After"],
      ["vary", "Origin"],
    ]);
  });

  it("gives an unlisted origin, the null origin and origin-less requests only Vary: Origin", () => {
    for (const origin of ["https://evil.example", "null", "https://app.example.com.evil.net", undefined]) {
      expect(run({ origins: [APP] }, { method: "POST", headers: { origin } })).toEqual({
        action: "continue",
        headers: [["vary", "Origin"]],
      });
    }
  });

  it("answers '*' (without credentials) with a precomputed wildcard", () => {
    const guard = cors({ origins: "*" });
    const a = guard(viewFromParts({ headers: { origin: "https://any.example" } }));
    expect(a).toBe(guard(viewFromParts({ headers: { origin: "https://other.example" } })));
    expect((a as ContinueOutcome).headers?.[0]).toEqual(["access-control-allow-origin", "*"]);
  });

  it("omits the expose header when nothing is exposed", () => {
    const outcome = run(
      { origins: [APP], exposedHeaders: [] },
      { headers: { origin: APP } },
    ) as ContinueOutcome;
    expect(outcome.headers).toEqual([
      ["access-control-allow-origin", APP],
      ["vary", "Origin"],
    ]);
  });
});

describe("cors preflights", () => {
  it("answers an allowed preflight 204 with the configured lists, never echoing the request", () => {
    const outcome = run(
      { origins: [APP], credentials: true, maxAgeSeconds: 900 },
      preflight(APP, "PUT", { "access-control-request-headers": "Content-Type, X-CSRF-Token" }),
    );
    expect(outcome).toEqual({
      action: "respond",
      status: 204,
      headers: [
        ["access-control-allow-origin", APP],
        ["access-control-allow-credentials", "true"],
        ["access-control-allow-methods", "GET, HEAD, POST, PUT, PATCH, DELETE"],
        ["access-control-allow-headers", "content-type, x-csrf-token, idempotency-key"],
        ["access-control-max-age", "900"],
        ["vary", "Origin"],
        ["content-length", "0"],
      ],
    });
  });

  it("refuses a preflight from an unlisted origin with 403 and no CORS headers", () => {
    expectRefused(run({ origins: [APP] }, preflight("https://evil.example")));
    expectRefused(run({ origins: [APP] }, preflight("null")));
  });

  it("refuses a preflight for a method that is not allowed", () => {
    expectRefused(run({ origins: [APP], methods: ["GET", "POST"] }, preflight(APP, "DELETE")));
    expectRefused(run({ origins: [APP] }, preflight(APP, "patch")));
  });

  it("refuses a preflight asking for a header that is not allowed, even among allowed ones", () => {
    expectRefused(
      run(
        { origins: [APP] },
        preflight(APP, "POST", { "access-control-request-headers": "content-type,x-evil" }),
      ),
    );
    expectRefused(
      run({ origins: [APP] }, preflight(APP, "POST", { "access-control-request-headers": "authorization" })),
    );
  });

  it("accepts an empty or whitespace-padded header list", () => {
    const ok = run(
      { origins: [APP] },
      preflight(APP, "POST", { "access-control-request-headers": " content-type , " }),
    );
    expect((ok as RespondOutcome).status).toBe(204);
  });

  it("answers Private Network Access only when asked, and refuses it otherwise", () => {
    const pna = { "access-control-request-private-network": "true" };
    expectRefused(run({ origins: [APP] }, preflight(APP, "POST", pna)));
    const allowed = run(
      { origins: [APP], allowPrivateNetwork: true },
      preflight(APP, "POST", pna),
    ) as RespondOutcome;
    expect(allowed.status).toBe(204);
    expect(allowed.headers.at(-1)).toEqual(["access-control-allow-private-network", "true"]);
    const plain = run(
      { origins: [APP], allowPrivateNetwork: true },
      preflight(APP, "POST"),
    ) as RespondOutcome;
    expect(plain.headers.some(([n]) => n === "access-control-allow-private-network")).toBe(false);
  });

  it("treats OPTIONS without Access-Control-Request-Method as an actual request", () => {
    const outcome = run({ origins: [APP] }, { method: "OPTIONS", headers: { origin: APP } });
    expect(outcome.action).toBe("continue");
  });

  it("answers a '*' preflight with '*'", () => {
    const outcome = run({ origins: "*" }, preflight("https://anyone.example", "POST")) as RespondOutcome;
    expect(outcome.status).toBe(204);
    expect(outcome.headers[0]).toEqual(["access-control-allow-origin", "*"]);
  });
});

describe("cors origin patterns", () => {
  const wildcard = compileOrigins(["https://*.example.com"], true);

  it("matches exactly one label under a wildcard domain", () => {
    for (const ok of [
      "https://a.example.com",
      "https://app-1.example.com",
      "https://xn--bcher-kva.example.com",
    ]) {
      expect(wildcard.match(ok), ok).toBe(true);
    }
    for (const bad of [
      "https://example.com",
      "https://evil-example.com",
      "https://example.com.evil.net",
      "https://a.example.com.evil.net",
      "https://a.b.example.com",
      "http://a.example.com",
      "https://a.example.com:8443",
      "https://A.example.com",
      "https://.example.com",
      "https://-a.example.com",
      "https://a-.example.com",
      "https://a_b.example.com",
      "https://user@a.example.com",
      "https://a.example.com/",
      "null",
      "",
    ]) {
      expect(wildcard.match(bad), bad).toBe(false);
    }
  });

  it("keeps the port of a wildcard pattern exact", () => {
    const withPort = compileOrigins(["https://*.example.com:8443"], false);
    expect(withPort.match("https://a.example.com:8443")).toBe(true);
    expect(withPort.match("https://a.example.com")).toBe(false);
    expect(withPort.match("https://a.example.com:84431")).toBe(false);
  });

  it("matches anchored regular expressions", () => {
    const re = compileOrigins([/^https:\/\/(?:app|admin)\.example\.com$/], true);
    expect(re.match("https://admin.example.com")).toBe(true);
    expect(re.match("https://admin.example.com.evil.net")).toBe(false);
  });

  it("never matches anything but one DNS label under the domain (property)", () => {
    const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
    const pieces = fc.constantFrom(
      "a",
      "b1",
      "-",
      ".",
      ":",
      "@",
      "/",
      "example",
      "com",
      "evil",
      "%2e",
      "A",
      "_",
      "443",
    );
    const tricky = fc
      .tuple(
        fc.oneof(fc.constant("https://"), fc.constantFrom("http://", "https:/", "", "HTTPS://")),
        fc.oneof(
          fc.stringMatching(/^[a-z0-9.-]{1,8}$/),
          fc.array(pieces, { maxLength: 6 }).map((p) => p.join("")),
        ),
        fc.oneof(
          fc.constant(".example.com"),
          fc.constantFrom("example.com", ".example.com.", ".example.co", ".example.com:443", ""),
        ),
        fc.oneof(
          fc.constant(""),
          fc.array(pieces, { maxLength: 3 }).map((p) => p.join("")),
        ),
      )
      .map(([scheme, host, domain, tail]) => `${scheme}${host}${domain}${tail}`);
    let matched = 0;
    fc.assert(
      fc.property(fc.oneof(tricky, fc.string()), (origin) => {
        if (!wildcard.match(origin)) return;
        matched++;
        expect(origin.startsWith("https://") && origin.endsWith(".example.com")).toBe(true);
        expect(origin.slice(8, -12)).toMatch(label);
      }),
      { numRuns: 1000 },
    );
    expect(matched).toBeGreaterThan(0);
  });

  it("matches an exact origin only as the same string (property)", () => {
    const exact = compileOrigins([APP], true);
    fc.assert(
      fc.property(fc.string(), (origin) => {
        expect(exact.match(origin)).toBe(origin === APP);
      }),
    );
  });
});

describe("cors refuses unsafe options at construction", () => {
  const refused: Array<[string, unknown, RegExp]> = [
    ["'*' with credentials", { origins: "*", credentials: true }, /cannot be combined with credentials/],
    ["the null origin", { origins: ["null"] }, /"null" origin is refused/],
    ["an unanchored regex", { origins: [/example\.com/] }, /must be anchored/],
    ["a regex anchored only at the start", { origins: [/^https:\/\/example\.com/] }, /must be anchored/],
    ["a regex ending in an escaped dollar", { origins: [/^https:\/\/a\$/] }, /must be anchored/],
    ["a top-level alternation", { origins: [/^https:\/\/a\.com|https:\/\/b\.com$/] }, /top-level "\|"/],
    ["an unescaped dot", { origins: [/^https:\/\/app.example\.com$/] }, /unescaped "\."/],
    ["a global regex", { origins: [/^https:\/\/a\.com$/g] }, /g or y flag/],
    ["a missing allowlist", {}, /"origins" is required/],
    ["an empty allowlist", { origins: [] }, /"origins" is required/],
    ["'*' with other origins", { origins: ["*", APP] }, /already allows every origin/],
    ["a malformed origin", { origins: ["app.example.com"] }, /not a valid origin/],
    ["an origin with a path", { origins: ["https://app.example.com/"] }, /not a valid origin/],
    [
      "a non-canonical origin",
      { origins: ["https://APP.example.com"] },
      /write it as "https:\/\/app\.example\.com"/,
    ],
    ["a wildcard over a TLD", { origins: ["https://*.com"] }, /too broad/],
    ["a wildcard over an IP", { origins: ["https://*.127.0.0.1"] }, /not an IP address/],
    ["a wildcard with a path", { origins: ["https://*.example.com/"] }, /must look like/],
    ["a wildcard inside a label", { origins: ["https://a*.example.com"] }, /not a valid origin/],
    ["two wildcards", { origins: ["https://*.*.example.com"] }, /must look like/],
    ["a wildcard without a scheme", { origins: ["*.example.com"] }, /not a valid origin/],
    ["a non-string origin", { origins: [42] }, /strings or RegExps/],
    ["lower-case methods", { origins: [APP], methods: ["get"] }, /upper-case/],
    ["'*' as allowed headers", { origins: [APP], allowedHeaders: ["*"] }, /"\*" is not allowed/],
    ["a header name with a space", { origins: [APP], allowedHeaders: ["x csrf"] }, /HTTP tokens/],
    ["a max age above a day", { origins: [APP], maxAgeSeconds: 86_401 }, /≤ 86400/],
    ["an unknown option", { origins: [APP], credential: true }, /did you mean "credentials"/],
  ];
  for (const [name, options, message] of refused) {
    it(`refuses ${name}`, () => {
      expect(() => cors(options as CorsOptions)).toThrow(
        expect.objectContaining({ code: "ERR_CONFIG_INVALID", message: expect.stringMatching(message) }),
      );
    });
  }
});
