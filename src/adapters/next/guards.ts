import type { Logger } from "../../core/logger.js";
import { configError, describe } from "../../core/options.js";
import {
  type BulwarkLocals,
  type Chain,
  EMPTY_LOCALS,
  type GuardsOrOptions,
  INTERNAL,
  isPending,
  mergeLocals,
  resolveChain,
  runChain,
} from "../chain.js";
import { targetOf, WebView } from "../web-io.js";

const LOCALS = new WeakMap<Request, BulwarkLocals>();
const KEPT = new WeakMap<Request, Uint8Array>();

/** The locals guards set for this request (CSP nonce, CSRF token, …); an empty object when none did. */
export function bulwarkLocals(request: Request): BulwarkLocals {
  return LOCALS.get(request) ?? EMPTY_LOCALS;
}

/**
 * The raw body a guard read, exactly as received. The request itself stays readable too
 * (guards read a clone), so `await request.json()` works as usual.
 */
export function rawBodyOf(request: Request): Uint8Array | undefined {
  return KEPT.get(request);
}

class NextView extends WebView {
  readonly req: Request;

  constructor(chain: Chain, req: Request) {
    super(chain);
    this.req = req;
  }

  get method(): string {
    return this.req.method;
  }

  get url(): string {
    return targetOf(this.req.url);
  }

  header(name: string): string | undefined {
    return this.req.headers.get(name) ?? undefined;
  }

  /** Next.js does not expose the TCP peer to route handlers or middleware. */
  get remoteAddress(): string | undefined {
    return undefined;
  }

  get protocol(): "http" | "https" {
    return this.req.url.startsWith("https:") ? "https" : "http";
  }

  request(): Request {
    return this.req;
  }

  protected override readBody(maxBytes: number): Promise<Uint8Array> {
    return super.readBody(maxBytes).then((bytes) => {
      KEPT.set(this.req, bytes);
      return bytes;
    });
  }

  protected storeLocals(add: Readonly<Record<string, unknown>>): BulwarkLocals {
    const merged = mergeLocals(LOCALS.get(this.req), add);
    LOCALS.set(this.req, merged);
    return merged;
  }
}

/** Errors Next.js throws on purpose (`redirect()`, `notFound()`, dynamic bail-outs): never swallowed. */
function isNextSignal(error: unknown): boolean {
  if (error === null || typeof error !== "object") return false;
  const e = error as { digest?: unknown; $$typeof?: unknown };
  return typeof e.digest === "string" || e.$$typeof === Symbol.for("react.postpone");
}

/**
 * Wraps an App Router route handler: `export const POST = withGuards(handler, guardA, guardB)`.
 * Guards run in order; the first that answers ends the chain. Headers of continue outcomes are added to
 * the handler's response as defaults it may override (also to the 500 answered when the handler throws);
 * locals are read with `bulwarkLocals(request)`; onResponse hooks receive a clone of the response. A guard
 * or handler that throws answers 500 `ERR_INTERNAL` (problem+json, no details) and is logged; Next.js's
 * own control-flow errors (`redirect()`, `notFound()`) pass through. An options object may come first.
 */
export function withGuards<Req extends Request, Rest extends unknown[]>(
  handler: (request: Req, ...rest: Rest) => Response | Promise<Response>,
  ...args: GuardsOrOptions
): (request: Req, ...rest: Rest) => Promise<Response> {
  if (typeof handler !== "function") {
    throw configError("withGuards", `the handler must be a function, got ${describe(handler)}`);
  }
  const chain = resolveChain("withGuards", args);
  return async function guarded(request: Req, ...rest: Rest): Promise<Response> {
    const view = new NextView(chain, request);
    let verdict = runChain(view);
    if (isPending(verdict)) verdict = await verdict;
    if (verdict !== undefined) return view.answer(verdict);
    let response: unknown;
    try {
      response = await handler(request, ...rest);
    } catch (error) {
      if (isNextSignal(error)) throw error;
      view.reportInternal(error, "the route handler failed");
      return view.answer(INTERNAL);
    }
    if (!(response instanceof Response)) {
      view.reportInternal(
        new TypeError(`the route handler returned ${describe(response)} instead of a Response`),
        "the route handler failed",
      );
      return view.answer(INTERNAL);
    }
    return view.finish(response);
  };
}

// ---------------------------------------------------------------------------------------------------
// middleware.ts / proxy.ts

/** Request headers through which middleware hands string locals to routes and server components. */
export const FORWARDED_LOCALS_PREFIX = "x-bulwark-";

function headerNameFor(key: string): string | undefined {
  const name = FORWARDED_LOCALS_PREFIX + key.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);
  return /^[a-z0-9-]+$/.test(name) ? name : undefined;
}

/**
 * The string locals that `middleware(...)` forwarded to this request, by their original key
 * (`x-bulwark-csp-nonce` → `cspNonce`). Read it in route handlers or, with `headers()` from
 * `next/headers`, in server components. Only headers the middleware set are present: it strips any
 * `x-bulwark-*` header a client sent, on every request it matches.
 */
export function forwardedLocals(source: Request | Headers): Readonly<Record<string, string>> {
  const headers = source instanceof Headers ? source : source.headers;
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (!name.startsWith(FORWARDED_LOCALS_PREFIX)) continue;
    const key = name
      .slice(FORWARDED_LOCALS_PREFIX.length)
      .replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    out[key] = value;
  }
  return out;
}

function hasForwardedHeader(headers: Headers): boolean {
  for (const [name] of headers) if (name.startsWith(FORWARDED_LOCALS_PREFIX)) return true;
  return false;
}

/**
 * The response that lets a request through Next.js middleware (what `NextResponse.next()` builds),
 * carrying the chain's response headers, and — when there are string locals, or the client sent
 * `x-bulwark-*` headers — the request header override that forwards locals and strips the client's.
 */
function passThrough(view: NextView, logger: Logger, warned: { onResponse: boolean }): Response {
  const headers = view.headers ?? new Headers();
  headers.set("x-middleware-next", "1");
  const request = view.req;
  const locals = LOCALS.get(request);
  const forwarded: Array<[string, string]> = [];
  if (locals !== undefined) {
    for (const key of Object.keys(locals)) {
      const value = locals[key];
      const name = headerNameFor(key);
      if (typeof value === "string" && name !== undefined && !/[\r\n\0]/.test(value))
        forwarded.push([name, value]);
    }
  }
  if (forwarded.length > 0 || hasForwardedHeader(request.headers)) {
    const names: string[] = [];
    for (const [name, value] of request.headers) {
      if (name.startsWith(FORWARDED_LOCALS_PREFIX)) continue;
      headers.set(`x-middleware-request-${name}`, value);
      names.push(name);
    }
    for (const [name, value] of forwarded) {
      headers.set(`x-middleware-request-${name}`, value);
      names.push(name);
    }
    headers.set("x-middleware-override-headers", names.join(","));
  }
  if (view.hooks !== undefined && !warned.onResponse) {
    warned.onResponse = true;
    logger.warn(
      { code: "ERR_CONFIG_INVALID" },
      "bulwark: onResponse is not available in Next.js middleware (it never sees the route's response); wrap the route with withGuards",
    );
  }
  return new Response(null, { headers });
}

/**
 * Next.js middleware (`middleware.ts`, or `proxy.ts` since Next 16): `export default middleware(guardA)`.
 * Guards run in order; the first that answers ends the chain. Otherwise the request continues with the
 * chain's headers added to the final response, and string locals forwarded as `x-bulwark-*` request
 * headers (read them with `forwardedLocals`). Middleware cannot remove headers from, or capture, the
 * route's response: `removeHeaders` is ignored (turn off `poweredByHeader` in next.config) and
 * `onResponse` needs `withGuards`. An options object may come first.
 */
export function middleware(...args: GuardsOrOptions): (request: Request) => Promise<Response> {
  const chain = resolveChain("middleware", args);
  const warned = { onResponse: false };
  return async function bulwarkMiddleware(request: Request): Promise<Response> {
    const view = new NextView(chain, request);
    let verdict = runChain(view);
    if (isPending(verdict)) verdict = await verdict;
    if (verdict !== undefined) return view.answer(verdict);
    return passThrough(view, view.logger(), warned);
  };
}
