/**
 * Runs the Next.js examples (a route handler and a middleware) with real NextRequest objects and prints
 * what they answered as one JSON line. Started by test/examples.test.ts with the bulwark resolver.
 */
import { NextRequest } from "next/server.js";

type RouteModule = { GET: (r: Request) => Promise<Response>; POST: (r: Request) => Promise<Response> };
type MiddlewareModule = { default: (r: Request) => Promise<Response>; config: { matcher: string[] } };

// Paths kept out of the type checker's reach: the examples import "bulwark/next", which only the
// resolver (not tsc, before a build) maps to the sources.
const routePath = new URL("../../examples/next/app/api/hello/route.ts", import.meta.url).href;
const middlewarePath = new URL("../../examples/next/middleware.ts", import.meta.url).href;
const route = (await import(routePath)) as RouteModule;
const mw = (await import(middlewarePath)) as MiddlewareModule;

async function summary(response: Response) {
  return {
    status: response.status,
    nosniff: response.headers.get("x-content-type-options"),
    next: response.headers.get("x-middleware-next"),
    greeting: response.headers.get("x-middleware-request-x-bulwark-greeting"),
    body: response.body === null ? null : await response.text(),
  };
}

console.log(
  JSON.stringify({
    get: await summary(await route.GET(new NextRequest("http://localhost/api/hello"))),
    post: await summary(await route.POST(new NextRequest("http://localhost/api/hello", { method: "POST" }))),
    pass: await summary(await mw.default(new NextRequest("http://localhost/"))),
    deny: await summary(
      await mw.default(new NextRequest("http://localhost/admin/users", { method: "DELETE" })),
    ),
    matcher: mw.config.matcher,
  }),
);
