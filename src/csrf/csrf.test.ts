import { describe, expect, it, vi } from "vitest";
import { manualClock } from "../core/clock.js";
import { isBulwarkError } from "../core/errors.js";
import { memoryLogger, silentLogger } from "../core/logger.js";
import type { ContinueOutcome, Outcome, RespondOutcome } from "../core/outcome.js";
import { type RequestView, viewFromParts } from "../core/request.js";
import { type CsrfOptions, csrf } from "./csrf.js";

const SECRET = "test-secret-that-is-at-least-32-bytes-long";
const OTHER_SECRET = "another-secret-that-is-at-least-32-bytes";
const SITE = "https://example.com";
type Parts = Parameters<typeof viewFromParts>[0];

function make(options: Partial<CsrfOptions> = {}) {
  const clock = manualClock();
  const guard = csrf({ secrets: SECRET, clock, logger: silentLogger, ...options });
  return { guard, clock };
}

async function run(guard: (v: RequestView) => Outcome | Promise<Outcome>, parts: Parts): Promise<Outcome> {
  return await guard(
    viewFromParts({ protocol: "https", ...parts, headers: { host: "example.com", ...parts.headers } }),
  );
}

function expectRejected(outcome: Outcome, code: string): void {
  expect(outcome.action).toBe("respond");
  const respond = outcome as RespondOutcome;
  expect(respond.status).toBe(403);
  expect(respond.headers).toEqual([
    ["content-type", "application/problem+json"],
    ["cache-control", "no-store"],
  ]);
  const body = JSON.parse(String(respond.body));
  expect(body).toMatchObject({ status: 403, code, type: `https://bulwark.dev/errors/${code}` });
  expect(Object.keys(body).sort()).toEqual(["code", "status", "title", "type"]);
}

function expectContinue(outcome: Outcome): ContinueOutcome {
  expect(outcome.action).toBe("continue");
  return outcome as ContinueOutcome;
}

/** Fetches a token from the endpoint as a new anonymous visitor; returns the token and cookie pair. */
async function anonymousToken(guard: Parameters<typeof run>[0], cookie?: string) {
  const outcome = (await run(guard, {
    url: "/csrf-token",
    headers: cookie === undefined ? {} : { cookie },
  })) as RespondOutcome;
  const setCookie = outcome.headers.find(([n]) => n === "set-cookie")?.[1];
  const pair = cookie ?? (setCookie?.split(";")[0] as string);
  return { token: JSON.parse(String(outcome.body)).token as string, cookie: pair, outcome };
}

const post = (headers: Record<string, string | undefined>, extra: Partial<Parts> = {}): Parts => ({
  method: "POST",
  url: "/transfer",
  ...extra,
  headers: { "sec-fetch-site": "same-origin", ...headers },
});

describe("csrf Fetch Metadata layer (Go CrossOriginProtection vectors, plus scheme)", () => {
  const { guard } = make({ mode: "origin" });
  const cases: Array<[string, string, string | undefined, string | undefined, number]> = [
    ["same-origin allowed", "POST", "same-origin", undefined, 200],
    ["none allowed", "POST", "none", undefined, 200],
    ["cross-site blocked", "POST", "cross-site", undefined, 403],
    ["same-site blocked", "POST", "same-site", undefined, 403],
    ["no header with no origin", "POST", undefined, undefined, 200],
    ["no header with matching origin", "POST", undefined, SITE, 200],
    ["no header with mismatched origin", "POST", undefined, "https://attacker.example", 403],
    ["no header with null origin", "POST", undefined, "null", 403],
    ["GET allowed", "GET", "cross-site", undefined, 200],
    ["HEAD allowed", "HEAD", "cross-site", undefined, 200],
    ["OPTIONS allowed", "OPTIONS", "cross-site", undefined, 200],
    ["PUT blocked", "PUT", "cross-site", undefined, 403],
    ["DELETE blocked", "DELETE", "cross-site", undefined, 403],
    ["an unknown Sec-Fetch-Site value blocked", "POST", "cross-origin-ish", undefined, 403],
    [
      "http page posting to the https site blocked (scheme compared)",
      "POST",
      undefined,
      "http://example.com",
      403,
    ],
    ["another port blocked", "POST", undefined, "https://example.com:8443", 403],
  ];
  for (const [name, method, site, origin, status] of cases) {
    it(name, async () => {
      const outcome = await run(guard, {
        method,
        url: "/",
        headers: { "sec-fetch-site": site, origin },
      });
      if (status === 200) expect(outcome.action).toBe("continue");
      else expectRejected(outcome, "ERR_CSRF_ORIGIN_MISMATCH");
    });
  }

  it("treats the scheme's default port in Host as the same origin", async () => {
    const outcome = await run(guard, { method: "POST", headers: { host: "Example.com:443", origin: SITE } });
    expect(outcome.action).toBe("continue");
  });

  it("compares against publicOrigins instead of Host when configured (TLS-terminating proxy)", async () => {
    const behindProxy = { method: "POST", protocol: "http" as const, headers: { origin: SITE } };
    expectRejected(await run(guard, behindProxy), "ERR_CSRF_ORIGIN_MISMATCH");
    const { guard: proxied } = make({ mode: "origin", publicOrigins: [SITE] });
    expect((await run(proxied, behindProxy)).action).toBe("continue");
    const spoofedHost = { ...behindProxy, headers: { origin: "https://evil.example", host: "evil.example" } };
    expectRejected(await run(proxied, spoofedHost), "ERR_CSRF_ORIGIN_MISMATCH");
  });

  it("lets a trusted origin through with or without Sec-Fetch-Site, and nobody else", async () => {
    const { guard: trusting } = make({ mode: "origin", trustedOrigins: ["https://trusted.example"] });
    for (const site of [undefined, "cross-site", "same-site"]) {
      const ok = await run(trusting, {
        method: "POST",
        headers: { origin: "https://trusted.example", "sec-fetch-site": site },
      });
      expect(ok.action).toBe("continue");
      const bad = await run(trusting, {
        method: "POST",
        headers: { origin: "https://attacker.example", "sec-fetch-site": site },
      });
      expectRejected(bad, "ERR_CSRF_ORIGIN_MISMATCH");
    }
    const noOrigin = await run(trusting, { method: "POST", headers: { "sec-fetch-site": "cross-site" } });
    expectRejected(noOrigin, "ERR_CSRF_ORIGIN_MISMATCH");
  });

  it("exempts only the exact paths named, never prefixes or near-misses", async () => {
    const { guard: exempting } = make({ exemptPaths: ["/webhooks/stripe"] });
    const at = (url: string) =>
      run(exempting, { method: "POST", url, headers: { "sec-fetch-site": "cross-site" } });
    expect((await at("/webhooks/stripe")).action).toBe("continue");
    expect((await at("/webhooks/stripe?x=1")).action).toBe("continue");
    for (const url of [
      "/webhooks/stripe/",
      "/webhooks/stripe/x",
      "/webhooks",
      "/webhooks/stripeX",
      "/Webhooks/stripe",
    ]) {
      expectRejected(await at(url), "ERR_CSRF_ORIGIN_MISMATCH");
    }
  });
});

describe("csrf token layer", () => {
  it("serves the token endpoint with a fresh anonymous session cookie", async () => {
    const { guard } = make();
    const { outcome, token, cookie } = await anonymousToken(guard);
    expect(outcome.status).toBe(200);
    expect(outcome.headers.slice(0, 3)).toEqual([
      ["content-type", "application/json"],
      ["cache-control", "no-store"],
      ["vary", "Cookie"],
    ]);
    const setCookie = outcome.headers.find(([n]) => n === "set-cookie")?.[1] ?? "";
    expect(setCookie).toMatch(
      /^__Host-bulwark-csrf=[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Lax; Secure$/,
    );
    expect(token).toHaveLength(142);
    expect(cookie.startsWith("__Host-bulwark-csrf=")).toBe(true);
  });

  it("reuses an existing anonymous session instead of minting another cookie", async () => {
    const { guard } = make();
    const first = await anonymousToken(guard);
    const second = await anonymousToken(guard, first.cookie);
    expect(second.outcome.headers.some(([n]) => n === "set-cookie")).toBe(false);
    expect(second.token).not.toBe(first.token);
    const outcome = await run(guard, post({ "x-csrf-token": first.token, cookie: first.cookie }));
    expect(outcome.action).toBe("continue");
  });

  it("answers HEAD on the token endpoint without a body", async () => {
    const { guard } = make();
    const outcome = (await run(guard, { method: "HEAD", url: "/csrf-token" })) as RespondOutcome;
    expect(outcome.status).toBe(200);
    expect(outcome.body).toBeUndefined();
  });

  it("accepts a valid token from the header for the session it was issued to", async () => {
    const { guard } = make();
    const { token, cookie } = await anonymousToken(guard);
    expect((await run(guard, post({ "x-csrf-token": token, cookie }))).action).toBe("continue");
  });

  it("rejects an unsafe request without a token with ERR_CSRF_TOKEN_MISSING", async () => {
    const { guard } = make();
    const { cookie } = await anonymousToken(guard);
    expectRejected(await run(guard, post({ cookie })), "ERR_CSRF_TOKEN_MISSING");
    expectRejected(await run(guard, post({ cookie, "x-csrf-token": "" })), "ERR_CSRF_TOKEN_MISSING");
  });

  it("rejects a token without its session cookie with ERR_CSRF_TOKEN_INVALID", async () => {
    const { guard } = make();
    const { token } = await anonymousToken(guard);
    expectRejected(await run(guard, post({ "x-csrf-token": token })), "ERR_CSRF_TOKEN_INVALID");
  });

  it("rejects a token issued to another session", async () => {
    const { guard } = make();
    const victim = await anonymousToken(guard);
    const attacker = await anonymousToken(guard);
    const outcome = await run(guard, post({ "x-csrf-token": attacker.token, cookie: victim.cookie }));
    expectRejected(outcome, "ERR_CSRF_TOKEN_INVALID");
  });

  it("rejects a forged session cookie", async () => {
    const { guard } = make();
    const { token, cookie } = await anonymousToken(guard);
    // Change the third-last character to a different one (testing the last character would miss
    // when it already was the replacement: the cookie then is not tampered at all).
    const tampered = `${cookie.slice(0, -3)}${cookie.at(-3) === "A" ? "B" : "A"}${cookie.slice(-2)}`;
    expect(tampered).not.toBe(cookie);
    expectRejected(
      await run(guard, post({ "x-csrf-token": token, cookie: tampered })),
      "ERR_CSRF_TOKEN_INVALID",
    );
    const foreign = make({ secrets: OTHER_SECRET });
    const fromOther = await anonymousToken(foreign.guard);
    expectRejected(
      await run(guard, post({ "x-csrf-token": fromOther.token, cookie: fromOther.cookie })),
      "ERR_CSRF_TOKEN_INVALID",
    );
  });

  it("rejects an expired token and accepts it up to maxAgeSeconds", async () => {
    const { guard, clock } = make({ maxAgeSeconds: 3600 });
    const { token, cookie } = await anonymousToken(guard);
    clock.advance(3_600_000);
    expect((await run(guard, post({ "x-csrf-token": token, cookie }))).action).toBe("continue");
    clock.advance(1000);
    expectRejected(await run(guard, post({ "x-csrf-token": token, cookie })), "ERR_CSRF_TOKEN_INVALID");
  });

  it("logs the reason of a rejection but never the token", async () => {
    const logger = memoryLogger();
    const guard = csrf({ secrets: SECRET, logger });
    const { token, cookie } = await anonymousToken(guard);
    const other = await anonymousToken(guard);
    const outcome = (await run(guard, post({ "x-csrf-token": other.token, cookie }))) as RespondOutcome;
    expect(logger.entries).toEqual([
      expect.objectContaining({ level: "debug", reason: "signature", method: "POST", path: "/transfer" }),
    ]);
    const logged = JSON.stringify(logger.entries);
    for (const secret of [token, other.token, cookie.split("=")[1] as string]) {
      expect(logged).not.toContain(secret);
      expect(String(outcome.body)).not.toContain(secret);
    }
  });

  it("verifies tokens signed with any configured secret and signs with the first", async () => {
    const old = make({ secrets: [OTHER_SECRET] });
    const rotated = make({ secrets: [SECRET, OTHER_SECRET] });
    const fromOld = await anonymousToken(old.guard);
    expect(
      (await run(rotated.guard, post({ "x-csrf-token": fromOld.token, cookie: fromOld.cookie }))).action,
    ).toBe("continue");
    const fromNew = await anonymousToken(rotated.guard);
    expectRejected(
      await run(old.guard, post({ "x-csrf-token": fromNew.token, cookie: fromNew.cookie })),
      "ERR_CSRF_TOKEN_INVALID",
    );
  });

  it("checks the origin before the token in mode both", async () => {
    const { guard } = make();
    const { token, cookie } = await anonymousToken(guard);
    const crossSite = post({ "sec-fetch-site": "cross-site", "x-csrf-token": token, cookie });
    expectRejected(await run(guard, crossSite), "ERR_CSRF_ORIGIN_MISMATCH");
    expectRejected(await run(guard, post({ "sec-fetch-site": "cross-site" })), "ERR_CSRF_ORIGIN_MISMATCH");
    const { guard: tokenOnly } = make({ mode: "token" });
    const t = await anonymousToken(tokenOnly);
    expect(
      (
        await run(
          tokenOnly,
          post({ "sec-fetch-site": "cross-site", "x-csrf-token": t.token, cookie: t.cookie }),
        )
      ).action,
    ).toBe("continue");
    expectRejected(await run(tokenOnly, post({ "sec-fetch-site": "cross-site" })), "ERR_CSRF_TOKEN_MISSING");
  });

  it("in mode origin needs no secret, serves no token endpoint and issues no locals", async () => {
    const guard = csrf({ mode: "origin", logger: silentLogger });
    expect(guard.tokenPath).toBeUndefined();
    expect(await run(guard, { url: "/csrf-token", headers: { "sec-fetch-dest": "document" } })).toEqual({
      action: "continue",
    });
    expect((await run(guard, post({}))).action).toBe("continue");
    await expect(guard.issue(viewFromParts({}))).rejects.toSatisfy((e) =>
      isBulwarkError(e, "ERR_CONFIG_INVALID"),
    );
  });
});

describe("csrf form fields", () => {
  it("reads the token from an urlencoded form body", async () => {
    const { guard } = make();
    const { token, cookie } = await anonymousToken(guard);
    const body = `amount=10&_csrf=${token}&to=bob`;
    const headers = { cookie, "content-type": "application/x-www-form-urlencoded" };
    expect((await run(guard, post(headers, { body }))).action).toBe("continue");
    expectRejected(await run(guard, post(headers, { body: "amount=10" })), "ERR_CSRF_TOKEN_MISSING");
    expectRejected(await run(guard, post(headers, { body: "_csrf=nope" })), "ERR_CSRF_TOKEN_INVALID");
  });

  it("reads the token from a multipart form body", async () => {
    const { guard } = make();
    const { token, cookie } = await anonymousToken(guard);
    const body = [
      "------b",
      'Content-Disposition: form-data; name="file"; filename="_csrf"',
      "Content-Type: text/plain",
      "",
      "not the token",
      "------b",
      'Content-Disposition: form-data; name="_csrf"',
      "",
      token,
      "------b--",
      "",
    ].join("\r\n");
    const headers = { cookie, "content-type": "multipart/form-data; boundary=----b" };
    expect((await run(guard, post(headers, { body }))).action).toBe("continue");
  });

  it("reads the body only for form content types, with maxFormBytes", async () => {
    const { guard } = make({ maxFormBytes: 4096 });
    const { cookie } = await anonymousToken(guard);
    const rawBody = vi.fn(async () => new TextEncoder().encode("_csrf=x"));
    const view = (contentType: string): RequestView => ({
      ...viewFromParts({
        protocol: "https",
        ...post({ cookie, host: "example.com", "content-type": contentType }),
      }),
      rawBody,
    });
    expectRejected(await guard(view("application/json")), "ERR_CSRF_TOKEN_MISSING");
    expectRejected(await guard(view("text/plain")), "ERR_CSRF_TOKEN_MISSING");
    expect(rawBody).not.toHaveBeenCalled();
    expectRejected(
      await guard(view("application/x-www-form-urlencoded; charset=UTF-8")),
      "ERR_CSRF_TOKEN_INVALID",
    );
    expect(rawBody).toHaveBeenCalledWith(4096);
  });

  it("treats a form post as missing its token when the adapter cannot supply the body", async () => {
    const { guard } = make();
    const outcome = await run(guard, post({ "content-type": "application/x-www-form-urlencoded" }));
    expectRejected(outcome, "ERR_CSRF_TOKEN_MISSING");
  });

  it("lets a body-size error from the adapter propagate (the adapter answers 413)", async () => {
    const { guard } = make();
    const tooLarge = Object.assign(new Error("too large"), { status: 413 });
    const view: RequestView = {
      ...viewFromParts({
        protocol: "https",
        ...post({ host: "example.com", "content-type": "application/x-www-form-urlencoded" }),
      }),
      rawBody: async () => {
        throw tooLarge;
      },
    };
    await expect(guard(view)).rejects.toBe(tooLarge);
  });
});

describe("csrf sessions and server-rendered pages", () => {
  it("puts a token in locals for page navigations, minting the session cookie", async () => {
    const { guard } = make();
    const outcome = expectContinue(await run(guard, { headers: { "sec-fetch-dest": "document" } }));
    expect(outcome.locals).toEqual({
      csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{142}$/),
      csrfFieldName: "_csrf",
      csrfHeaderName: "x-csrf-token",
    });
    const setCookie = outcome.headers?.find(([n]) => n === "set-cookie")?.[1] as string;
    const cookie = setCookie.split(";")[0] as string;
    const token = outcome.locals?.csrfToken as string;
    expect((await run(guard, post({ "x-csrf-token": token, cookie }))).action).toBe("continue");
  });

  it("does not mint tokens or cookies for sub-resources and API calls", async () => {
    const { guard } = make();
    for (const dest of ["image", "script", "style", "empty"]) {
      expect(await run(guard, { headers: { "sec-fetch-dest": dest, accept: "text/html" } })).toEqual({
        action: "continue",
      });
    }
    expect(await run(guard, { headers: { accept: "application/json" } })).toEqual({ action: "continue" });
    expect(
      expectContinue(await run(guard, { headers: { accept: "text/html,*/*" } })).locals?.csrfToken,
    ).toBeTypeOf("string");
  });

  it("honours localsToken always and never", async () => {
    const always = make({ localsToken: "always" }).guard;
    expect(
      expectContinue(await run(always, { headers: { "sec-fetch-dest": "image" } })).locals?.csrfToken,
    ).toBeTypeOf("string");
    const never = make({ localsToken: "never" }).guard;
    expect(await run(never, { headers: { "sec-fetch-dest": "document" } })).toEqual({ action: "continue" });
  });

  it("gives a passing unsafe page navigation a fresh token for the re-rendered page", async () => {
    const { guard } = make();
    const { token, cookie } = await anonymousToken(guard);
    const outcome = expectContinue(
      await run(guard, post({ "x-csrf-token": token, cookie, "sec-fetch-dest": "document" })),
    );
    expect(outcome.locals?.csrfToken).not.toBe(token);
    expect(outcome.headers).toEqual([]);
  });

  it("binds tokens to the application session when sessionId names one (sync or async)", async () => {
    for (const sessionId of [
      (v: RequestView) => v.header("x-user"),
      async (v: RequestView) => v.header("x-user"),
    ]) {
      const { guard } = make({ sessionId });
      const page = expectContinue(
        await run(guard, { headers: { "sec-fetch-dest": "document", "x-user": "u1" } }),
      );
      expect(page.headers).toEqual([]);
      const token = page.locals?.csrfToken as string;
      expect((await run(guard, post({ "x-csrf-token": token, "x-user": "u1" }))).action).toBe("continue");
      expectRejected(
        await run(guard, post({ "x-csrf-token": token, "x-user": "u2" })),
        "ERR_CSRF_TOKEN_INVALID",
      );
      expectRejected(await run(guard, post({ "x-csrf-token": token })), "ERR_CSRF_TOKEN_INVALID");
    }
  });

  it("falls back to the anonymous session for visitors without an application session, and a login invalidates it", async () => {
    const { guard } = make({ sessionId: (v) => v.header("x-user") });
    const { token, cookie } = await anonymousToken(guard);
    expect((await run(guard, post({ "x-csrf-token": token, cookie }))).action).toBe("continue");
    expectRejected(
      await run(guard, post({ "x-csrf-token": token, cookie, "x-user": "u1" })),
      "ERR_CSRF_TOKEN_INVALID",
    );
  });

  it("issue() hands a token and its cookie to code outside the guard", async () => {
    const { guard } = make();
    const issued = await guard.issue(viewFromParts({}));
    expect(issued.headers).toHaveLength(1);
    const cookie = issued.headers[0]![1].split(";")[0] as string;
    expect((await run(guard, post({ "x-csrf-token": issued.token, cookie }))).action).toBe("continue");
  });

  it("refuses a sessionId function that returns a non-string", async () => {
    const { guard } = make({ sessionId: () => 42 as unknown as string });
    await expect(async () => run(guard, post({ "x-csrf-token": "x" }))).rejects.toSatisfy((e) =>
      isBulwarkError(e, "ERR_CONFIG_INVALID"),
    );
  });

  it("uses a custom header name and cookie settings", async () => {
    const logger = memoryLogger();
    const guard = csrf({
      secrets: SECRET,
      headerName: "X-XSRF-Token",
      cookie: { name: "__Host-x", sameSite: "strict", maxAgeSeconds: 600 },
      logger,
    });
    const { token, cookie, outcome } = await anonymousToken(guard);
    expect(outcome.headers.find(([n]) => n === "set-cookie")?.[1]).toMatch(
      /^__Host-x=\S+; Path=\/; HttpOnly; SameSite=Strict; Secure; Max-Age=600$/,
    );
    expect((await run(guard, post({ "x-xsrf-token": token, cookie }))).action).toBe("continue");
    expect(logger.entries.filter((e) => e.level === "warn")).toEqual([]);
  });

  it("warns once for each dangerous cookie setting", async () => {
    const logger = memoryLogger();
    const insecure = csrf({
      secrets: SECRET,
      dangerouslyAllowInsecureCookie: true,
      cookie: { name: "csrf" },
      logger,
    });
    const { outcome } = await anonymousToken(insecure);
    expect(outcome.headers.find(([n]) => n === "set-cookie")?.[1]).toMatch(
      /^csrf=\S+; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    const crossSite = csrf({ secrets: SECRET, dangerouslyAllowCrossSiteCookie: true, logger });
    const widget = await anonymousToken(crossSite);
    expect(widget.outcome.headers.find(([n]) => n === "set-cookie")?.[1]).toMatch(/SameSite=None; Secure$/);
    await anonymousToken(crossSite);
    expect(logger.entries.filter((e) => e.level === "warn").map((e) => e.msg)).toEqual([
      "dangerouslyAllowInsecureCookie: the CSRF cookie is not Secure",
      "dangerouslyAllowCrossSiteCookie: the CSRF cookie is SameSite=None",
    ]);
  });
});

describe("csrf refuses unsafe or malformed options at construction", () => {
  const refused: Array<[string, unknown]> = [
    ["an unknown option", { secrets: SECRET, trustedOrigin: [] }],
    ["a missing secret", {}],
    ["a short secret", { secrets: "short" }],
    ["a short secret among several", { secrets: [SECRET, "short"] }],
    ["an empty secret list", { secrets: [] }],
    ["a non-string secret", { secrets: [42] }],
    ["an unknown mode", { secrets: SECRET, mode: "strict" }],
    ["trusted origins that are not an array", { secrets: SECRET, trustedOrigins: "https://a.example" }],
    ["an exempt path without a leading slash", { secrets: SECRET, exemptPaths: ["webhooks"] }],
    ["an exempt path with a wildcard", { secrets: SECRET, exemptPaths: ["/webhooks/*"] }],
    ["an exempt path with a query", { secrets: SECRET, exemptPaths: ["/hook?x"] }],
    ["a cookie name without __Host-", { secrets: SECRET, cookie: { name: "csrf" } }],
    ["an unknown cookie option", { secrets: SECRET, cookie: { domain: "example.com" } }],
    ["SameSite=None by the plain option", { secrets: SECRET, cookie: { sameSite: "none" } }],
    [
      "an insecure cross-site cookie",
      { secrets: SECRET, dangerouslyAllowInsecureCookie: true, dangerouslyAllowCrossSiteCookie: true },
    ],
    ["a header name with spaces", { secrets: SECRET, headerName: "x csrf" }],
    ["a zero maximum age", { secrets: SECRET, maxAgeSeconds: 0 }],
    ["a token path without a slash", { secrets: SECRET, tokenPath: "csrf" }],
    ["a sessionId that is not a function", { secrets: SECRET, sessionId: "sid" }],
    ["an unknown localsToken", { secrets: SECRET, localsToken: "sometimes" }],
    ["a non-integer form limit", { secrets: SECRET, maxFormBytes: 1.5 }],
  ];
  for (const [name, options] of refused) {
    it(`refuses ${name}`, () => {
      expect(() => csrf({ logger: silentLogger, ...(options as CsrfOptions) })).toThrow(
        expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
      );
    });
  }

  it("suggests the intended option for a typo", () => {
    expect(() => csrf({ secrets: SECRET, trustedOrigin: [] } as unknown as CsrfOptions)).toThrow(
      /did you mean "trustedOrigins"/,
    );
  });

  const badOrigins = [
    "example.com",
    "https://",
    "https://example.com/",
    "https://example.com/path",
    "https://example.com?query=value",
    "https://example.com#fragment",
    "https://ex ample.com",
    "",
    "null",
    "https://user@example.com",
    "ftp://example.com",
    "https://Example.com",
    "https://example.com:443",
    "*",
  ];
  for (const origin of badOrigins) {
    it(`refuses the trusted origin ${JSON.stringify(origin)}`, () => {
      expect(() => csrf({ secrets: SECRET, trustedOrigins: [origin] })).toThrow(
        expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
      );
    });
  }

  it("names the canonical spelling of a near-miss origin", () => {
    expect(() => csrf({ secrets: SECRET, trustedOrigins: ["https://Example.com:443"] })).toThrow(
      /write it as "https:\/\/example\.com"/,
    );
  });

  it("accepts valid trusted origins (Go vectors) and does not mutate the options", () => {
    const options = Object.freeze({
      secrets: Object.freeze([SECRET]),
      trustedOrigins: Object.freeze([
        "https://example.com",
        "https://example.com:8080",
        "http://example.com",
        "http://[::1]:3000",
      ]),
    });
    expect(() => csrf(options)).not.toThrow();
  });
});
