import { beforeEach, describe, expect, it, vi } from "vitest";
import { fakeServer } from "./fake-server.test-helper.js";
import { createCsrfFetch } from "./fetch.js";
import { csrfTokenManager, resetCsrfTokenManagers } from "./manager.js";

const BASE = "https://app.example/page";

beforeEach(() => resetCsrfTokenManagers());

function setup(options: { headerName?: string; initialToken?: string } = {}) {
  const server = fakeServer("https://app.example", options.headerName);
  const csrfFetch = createCsrfFetch({
    tokenUrl: "/csrf-token",
    fetch: server.fetch,
    baseUrl: BASE,
    ...options,
  });
  return { server, csrfFetch };
}

describe("createCsrfFetch", () => {
  it("fetches the token once for 20 concurrent unsafe requests and sends it with each", async () => {
    const { server, csrfFetch } = setup();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => csrfFetch(`/api/items/${i}`, { method: "POST", body: `n=${i}` })),
    );
    expect(server.tokenRequests()).toBe(1);
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(await responses[7]?.text()).toBe("accepted:n=7");
    expect(server.apiRequests().map((r) => r.token)).toEqual(Array(20).fill("t1"));
  });

  it("sends no token and fetches none for safe methods", async () => {
    const { server, csrfFetch } = setup();
    for (const method of ["GET", "HEAD", "OPTIONS", "get"]) await csrfFetch("/api/items", { method });
    await csrfFetch("/api/items");
    expect(server.tokenRequests()).toBe(0);
    expect(server.apiRequests().every((r) => r.token === null)).toBe(true);
  });

  it("never sends the token to another origin", async () => {
    const { server, csrfFetch } = setup();
    for (const url of [
      "https://evil.example/steal",
      "http://app.example/api",
      "https://app.example:8443/api",
      "//cdn.example/x",
    ]) {
      const response = await csrfFetch(url, { method: "POST", body: "x" });
      expect(response.status).toBe(200);
    }
    expect(server.tokenRequests()).toBe(0);
    expect(server.requests.every((r) => r.token === null)).toBe(true);
  });

  it("refreshes the token once and retries once when the server refuses it", async () => {
    const { server, csrfFetch } = setup();
    await csrfFetch("/api/a", { method: "POST", body: "1" });
    server.expireTokens();
    const response = await csrfFetch("/api/a", { method: "PUT", body: "payload" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("accepted:payload");
    expect(server.tokenRequests()).toBe(2);
    expect(server.apiRequests().map((r) => [r.method, r.token, r.body])).toEqual([
      ["POST", "t1", "1"],
      ["PUT", "t1", "payload"],
      ["PUT", "t2", "payload"],
    ]);
  });

  it("refreshes exactly once when 20 concurrent requests are refused with the same stale token", async () => {
    const { server, csrfFetch } = setup();
    await csrfFetch("/api/warm", { method: "POST" });
    server.expireTokens();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => csrfFetch("/api/items", { method: "DELETE" })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(server.tokenRequests()).toBe(2);
    expect(server.apiRequests()).toHaveLength(1 + 20 + 20);
  });

  it("returns the second refusal as is instead of looping", async () => {
    const { server, csrfFetch } = setup();
    server.rejectEverything("ERR_CSRF_TOKEN_INVALID");
    const response = await csrfFetch("/api/a", { method: "POST", body: "x" });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: "ERR_CSRF_TOKEN_INVALID" });
    expect(server.apiRequests()).toHaveLength(2);
    expect(server.tokenRequests()).toBe(2);
  });

  it("does not retry an origin refusal or a 403 that is not a CSRF problem", async () => {
    for (const mode of ["ERR_CSRF_ORIGIN_MISMATCH", "plain"] as const) {
      resetCsrfTokenManagers();
      const { server, csrfFetch } = setup();
      server.rejectEverything(mode);
      expect((await csrfFetch("/api/a", { method: "POST" })).status).toBe(403);
      expect(server.apiRequests()).toHaveLength(1);
      expect(server.tokenRequests()).toBe(1);
    }
  });

  it("retries the token request on the next call after a failed token fetch", async () => {
    const { server, csrfFetch } = setup();
    server.fetch.mockImplementationOnce(async () => new Response("down", { status: 503 }));
    await expect(csrfFetch("/api/a", { method: "POST" })).rejects.toThrow(/token request answered 503/);
    expect((await csrfFetch("/api/a", { method: "POST" })).status).toBe(200);
  });

  it("returns the refusal when the refresh itself fails", async () => {
    const { server, csrfFetch } = setup();
    await csrfFetch("/api/a", { method: "POST" });
    server.expireTokens();
    const realFetch = server.fetch.getMockImplementation()!;
    server.fetch.mockImplementation(async (input, init) =>
      String(input).endsWith("/csrf-token") ? new Response("down", { status: 503 }) : realFetch(input, init),
    );
    const response = await csrfFetch("/api/a", { method: "POST" });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: "ERR_CSRF_TOKEN_INVALID" });
  });

  it("refuses a token response without a token", async () => {
    const { server, csrfFetch } = setup();
    server.fetch.mockImplementationOnce(async () => Response.json({ nope: 1 }));
    await expect(csrfFetch("/api/a", { method: "POST" })).rejects.toThrow(/has no token/);
  });

  it("accepts Request objects and keeps their method, headers and body", async () => {
    const { server, csrfFetch } = setup();
    const request = new Request("https://app.example/api/r", {
      method: "PATCH",
      body: "patch-body",
      headers: { "x-custom": "1" },
    });
    const response = await csrfFetch(request);
    expect(await response.text()).toBe("accepted:patch-body");
    expect(server.apiRequests()[0]).toMatchObject({ method: "PATCH", token: "t1" });
  });

  it("uses a custom header name and an initial token without fetching", async () => {
    const { server, csrfFetch } = setup({ headerName: "x-xsrf", initialToken: "from-meta" });
    server.accept("from-meta");
    expect((await csrfFetch("/api/a", { method: "POST" })).status).toBe(200);
    expect(server.tokenRequests()).toBe(0);
    const sent = server.fetch.mock.calls[0]![0] as Request;
    expect(sent.headers.get("x-xsrf")).toBe("from-meta");
    expect(sent.headers.get("x-csrf-token")).toBeNull();
  });

  it("shares one token manager per origin between every instance in the realm", async () => {
    const server = fakeServer();
    const secondFetch = vi.fn((input: RequestInfo | URL, init?: RequestInit) => server.fetch(input, init));
    const first = createCsrfFetch({ tokenUrl: "/csrf-token", fetch: server.fetch, baseUrl: BASE });
    const second = createCsrfFetch({ tokenUrl: "https://app.example/csrf-token", fetch: secondFetch });
    const responses = await Promise.all([
      first("/x", { method: "POST" }),
      second("https://app.example/y", { method: "POST" }),
    ]);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(server.tokenRequests()).toBe(1);
    expect(secondFetch).toHaveBeenCalledTimes(1);
    expect((secondFetch.mock.calls[0]![0] as Request).headers.get("x-csrf-token")).toBe("t1");
    expect(csrfTokenManager({ tokenUrl: "https://app.example/other" }).fetchCount).toBe(1);
    const registry = (globalThis as Record<symbol, Map<string, unknown>>)[
      Symbol.for("bulwark.csrf.tokenManagers.v1")
    ];
    expect([...(registry?.keys() ?? [])]).toEqual(["https://app.example"]);
  });

  it("shares the manager with a separately loaded copy of the module (another bundle)", async () => {
    const { server, csrfFetch } = setup();
    await csrfFetch("/x", { method: "POST" });
    vi.resetModules();
    const copy = await import("./manager.js");
    expect(copy.csrfTokenManager).not.toBe(csrfTokenManager);
    const shared = copy.csrfTokenManager({ tokenUrl: "https://app.example/csrf-token" });
    expect(await shared.token()).toBe("t1");
    expect(server.tokenRequests()).toBe(1);
  });

  it("explains a relative URL that cannot be resolved", () => {
    expect(() => createCsrfFetch({ tokenUrl: "/csrf-token" })).toThrow(/cannot resolve URL/);
  });
});
