import { vi } from "vitest";

/**
 * An in-memory stand-in for a bulwark-protected server, reachable through a fake `fetch`: a token
 * endpoint issuing `t1`, `t2`, … and an API that accepts unsafe requests only with a current token.
 */
export function fakeServer(origin = "https://app.example", headerName = "x-csrf-token") {
  const valid = new Set<string>();
  let issued = 0;
  const requests: Array<{ method: string; url: string; token: string | null; body: string }> = [];
  let rejectAllWith: "ERR_CSRF_TOKEN_INVALID" | "ERR_CSRF_ORIGIN_MISMATCH" | "plain" | undefined;

  const problem = (code: string) =>
    new Response(
      JSON.stringify({ type: `https://bulwark.dev/errors/${code}`, title: "t", status: 403, code }),
      {
        status: 403,
        headers: { "content-type": "application/problem+json" },
      },
    );

  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    // Like a browser's fetch, resolve relative URLs against the page.
    const request = new Request(typeof input === "string" ? new URL(input, `${origin}/page`) : input, init);
    const url = new URL(request.url);
    const body = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
    const token = request.headers.get(headerName);
    requests.push({ method: request.method, url: url.href, token, body });
    await Promise.resolve();
    if (url.origin === origin && url.pathname === "/csrf-token") {
      const next = `t${++issued}`;
      valid.add(next);
      return Response.json({ token: next });
    }
    if (["GET", "HEAD", "OPTIONS"].includes(request.method) || url.origin !== origin) {
      return new Response("ok");
    }
    if (rejectAllWith === "plain") return new Response("forbidden", { status: 403 });
    if (rejectAllWith !== undefined) return problem(rejectAllWith);
    if (token === null) return problem("ERR_CSRF_TOKEN_MISSING");
    if (!valid.has(token)) return problem("ERR_CSRF_TOKEN_INVALID");
    return new Response(`accepted:${body}`);
  });

  return {
    origin,
    fetch,
    requests,
    tokenRequests: () => requests.filter((r) => new URL(r.url).pathname === "/csrf-token").length,
    apiRequests: () => requests.filter((r) => new URL(r.url).pathname !== "/csrf-token"),
    /** Makes `token` valid, as if the server had rendered it into the page. */
    accept: (token: string) => valid.add(token),
    /** Every issued token stops being valid (expiry, rotation, new session). */
    expireTokens: () => valid.clear(),
    rejectEverything: (mode: typeof rejectAllWith) => {
      rejectAllWith = mode;
    },
  };
}
