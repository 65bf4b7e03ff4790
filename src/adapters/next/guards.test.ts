import { redirect } from "next/navigation.js";
import { NextRequest, NextResponse } from "next/server.js";
import { describe, expect, it } from "vitest";
import { memoryLogger } from "../../core/logger.js";
import { CONTINUE, type Guard } from "../../core/outcome.js";
import { problem } from "../../core/problem.js";
import { bulwarkLocals, forwardedLocals, middleware, rawBodyOf, withGuards } from "./index.js";

const tagged: Guard = () => ({
  action: "continue",
  headers: [
    ["x-guard", "1"],
    ["set-cookie", "g=1"],
  ],
});

const sorted = (headers: Headers) => [...headers].sort(([a], [b]) => a.localeCompare(b));

describe("next withGuards", () => {
  it("adds guard headers to a NextResponse, passes the route context and exposes locals", async () => {
    const GET = withGuards(
      async (request: NextRequest, context: { params: Promise<{ id: string }> }) => {
        const { id } = await context.params;
        const response = NextResponse.json({ id, locals: bulwarkLocals(request) });
        response.cookies.set("app", "1");
        return response;
      },
      tagged,
      () => ({ action: "continue", locals: { cspNonce: "abc" } }),
    );
    const r = await GET(new NextRequest("http://localhost/items/7"), {
      params: Promise.resolve({ id: "7" }),
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ id: "7", locals: { cspNonce: "abc" } });
    expect(r.headers.get("x-guard")).toBe("1");
    expect(r.headers.getSetCookie()).toEqual(["app=1; Path=/", "g=1"]);
  });

  it("answers a respond outcome without calling the handler", async () => {
    let called = 0;
    const denied = problem(429, "ERR_RATELIMIT_EXCEEDED", "Too Many Requests", [["retry-after", "2"]]);
    const POST = withGuards(
      async () => {
        called++;
        return new Response("no");
      },
      tagged,
      async () => denied,
    );
    const r = await POST(new NextRequest("http://localhost/pay", { method: "POST" }));
    expect(r.status).toBe(429);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    expect(r.headers.get("retry-after")).toBe("2");
    expect(r.headers.get("x-guard")).toBe("1");
    expect(await r.text()).toBe(denied.body);
    expect(called).toBe(0);
  });

  it("adds headers to an immutable Response.redirect", async () => {
    const GET = withGuards(async () => Response.redirect("https://example.com/login", 307), tagged);
    const r = await GET(new NextRequest("http://localhost/"));
    expect(r.status).toBe(307);
    expect(r.headers.get("location")).toBe("https://example.com/login");
    expect(r.headers.get("x-guard")).toBe("1");
  });

  it("lets Next.js control-flow errors such as redirect() through untouched", async () => {
    const GET = withGuards(async () => redirect("/login"), tagged);
    await expect(GET(new NextRequest("http://localhost/"))).rejects.toMatchObject({
      digest: expect.stringMatching(/^NEXT_REDIRECT/),
    });
  });

  it("answers 500 ERR_INTERNAL for a throwing handler or one that returns no Response", async () => {
    const logger = memoryLogger();
    const throwing = withGuards(
      async () => {
        throw new Error("secret");
      },
      { logger },
      tagged,
    );
    const empty = withGuards(async () => undefined as unknown as Response, { logger }, tagged);
    for (const handler of [throwing, empty]) {
      const r = await handler(new NextRequest("http://localhost/"));
      expect(r.status).toBe(500);
      expect(r.headers.get("x-guard")).toBe("1");
      const text = await r.text();
      expect(JSON.parse(text)).toMatchObject({ code: "ERR_INTERNAL" });
      expect(text).not.toContain("secret");
    }
    expect(logger.entries.filter((e) => e.code === "ERR_INTERNAL")).toHaveLength(2);
  });

  it("reads the raw body from a clone: the handler still reads the request, and 413 over the limit", async () => {
    const seen: string[] = [];
    const POST = withGuards(
      async (request: NextRequest) =>
        Response.json({ handler: await request.text(), kept: new TextDecoder().decode(rawBodyOf(request)) }),
      async (view) => {
        seen.push(new TextDecoder().decode(await view.rawBody!(32)));
        return CONTINUE;
      },
    );
    const ok = await POST(new NextRequest("http://localhost/hook", { method: "POST", body: "t=1,v1=abc" }));
    expect(await ok.json()).toEqual({ handler: "t=1,v1=abc", kept: "t=1,v1=abc" });
    expect(seen).toEqual(["t=1,v1=abc"]);
    const big = await POST(
      new NextRequest("http://localhost/hook", {
        method: "POST",
        body: "x".repeat(64),
        headers: { "content-length": "64" },
      }),
    );
    expect(big.status).toBe(413);
  });

  it("refuses a handler that is not a function", () => {
    expect(() => withGuards("nope" as never, tagged)).toThrowError(/handler must be a function/);
  });
});

describe("next middleware", () => {
  it("continues exactly as NextResponse.next() would, with the guard headers", async () => {
    const mw = middleware(tagged);
    const r = await mw(new NextRequest("http://localhost/page"));
    const expected = NextResponse.next({ headers: { "x-guard": "1", "set-cookie": "g=1" } });
    expect(sorted(r.headers)).toEqual(sorted(expected.headers));
    expect(r.status).toBe(200);
  });

  it("forwards string locals as request headers the way NextResponse.next({ request }) does", async () => {
    const mw = middleware(() => ({ action: "continue", locals: { cspNonce: "n0nce", count: 3 } }));
    const request = new NextRequest("http://localhost/page", { headers: { accept: "text/html" } });
    const r = await mw(request);
    const forwarded = new Headers(request.headers);
    forwarded.set("x-bulwark-csp-nonce", "n0nce");
    const expected = NextResponse.next({ request: { headers: forwarded } });
    expect(sorted(r.headers)).toEqual(sorted(expected.headers));
    const routeHeaders = new Headers();
    for (const name of (r.headers.get("x-middleware-override-headers") ?? "").split(",")) {
      routeHeaders.set(name, r.headers.get(`x-middleware-request-${name}`)!);
    }
    expect(forwardedLocals(routeHeaders)).toEqual({ cspNonce: "n0nce" });
  });

  it("strips x-bulwark-* headers a client sent, even when no guard set locals", async () => {
    const mw = middleware(() => CONTINUE);
    const r = await mw(
      new NextRequest("http://localhost/", { headers: { "x-bulwark-csrf-token": "forged", accept: "*/*" } }),
    );
    expect(r.headers.get("x-middleware-override-headers")).toBe("accept");
    expect(r.headers.get("x-middleware-request-x-bulwark-csrf-token")).toBeNull();
    expect(r.headers.get("x-middleware-request-accept")).toBe("*/*");
  });

  it("answers a respond outcome with the earlier guards' headers", async () => {
    const mw = middleware(tagged, () => problem(403, "ERR_CSRF_ORIGIN_MISMATCH", "Forbidden"));
    const r = await mw(new NextRequest("http://localhost/", { method: "POST" }));
    expect(r.status).toBe(403);
    expect(r.headers.get("x-guard")).toBe("1");
    expect(r.headers.get("x-middleware-next")).toBeNull();
    expect(await r.json()).toMatchObject({ code: "ERR_CSRF_ORIGIN_MISMATCH" });
  });

  it("warns once that onResponse needs withGuards, and ignores removeHeaders", async () => {
    const logger = memoryLogger();
    const mw = middleware({ logger }, () => ({
      action: "continue",
      removeHeaders: ["x-powered-by"],
      onResponse: () => {},
    }));
    for (let i = 0; i < 3; i++) expect((await mw(new NextRequest("http://localhost/"))).status).toBe(200);
    expect(logger.entries.filter((e) => e.level === "warn")).toHaveLength(1);
    expect(String(logger.entries[0]?.msg)).toContain("withGuards");
  });
});
