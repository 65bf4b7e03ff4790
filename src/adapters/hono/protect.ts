import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Context, MiddlewareHandler } from "hono";
import {
  type BulwarkLocals,
  type Chain,
  EMPTY_LOCALS,
  type GuardsOrOptions,
  isPending,
  mergeLocals,
  resolveChain,
  runChain,
  tooLarge,
  unavailable,
} from "../chain.js";
import { readRequestBody, targetOf, WebView } from "../web-io.js";

/** The Hono environment this middleware provides: `c.get("bulwark")`. */
export interface BulwarkEnv {
  Variables: { bulwark: BulwarkLocals };
}

/** @hono/node-server puts the node request in the bindings: `c.env.incoming` (or `c.env.server.incoming`). */
function incomingOf(env: unknown): IncomingMessage | undefined {
  if (env === null || typeof env !== "object") return undefined;
  const bindings = env as { incoming?: IncomingMessage; server?: { incoming?: IncomingMessage } };
  const incoming = bindings.incoming ?? bindings.server?.incoming;
  return incoming !== undefined && typeof incoming.headers === "object" ? incoming : undefined;
}

class HonoView extends WebView {
  readonly c: Context<BulwarkEnv>;
  /** The node request under @hono/node-server: headers, peer address and TLS state are read from it. */
  readonly incoming: IncomingMessage | undefined;

  constructor(chain: Chain, c: Context<BulwarkEnv>) {
    super(chain);
    this.c = c;
    this.incoming = incomingOf(c.env);
  }

  get method(): string {
    return this.c.req.method;
  }

  get url(): string {
    return this.incoming?.url ?? targetOf(this.c.req.url);
  }

  header(name: string): string | undefined {
    const incoming = this.incoming;
    if (incoming === undefined) return this.c.req.raw.headers.get(name) ?? undefined;
    const value = incoming.headers[name.toLowerCase()];
    return value === undefined || typeof value === "string" ? value : value.join(", ");
  }

  get remoteAddress(): string | undefined {
    return this.incoming?.socket?.remoteAddress;
  }

  get protocol(): "http" | "https" {
    const incoming = this.incoming;
    if (incoming !== undefined)
      return (incoming.socket as TLSSocket | null)?.encrypted === true ? "https" : "http";
    return this.c.req.url.startsWith("https:") ? "https" : "http";
  }

  request(): Request {
    return this.c.req.raw;
  }

  /** Reads from a clone and fills Hono's body cache, so `c.req.json()` and `c.req.raw` both still work. */
  protected override readBody(maxBytes: number): Promise<Uint8Array> {
    // Hono types the cache as `Partial<Body>`, but it stores the promises of Body's methods.
    const cache = this.c.req.bodyCache as unknown as { arrayBuffer?: Promise<ArrayBuffer> };
    const cached = cache.arrayBuffer;
    if (cached !== undefined) {
      return cached.then((buffer) =>
        buffer.byteLength > maxBytes ? Promise.reject(tooLarge(maxBytes)) : new Uint8Array(buffer),
      );
    }
    if (this.c.req.raw.bodyUsed) return Promise.reject(unavailable());
    return readRequestBody(this.c.req.raw, maxBytes).then((bytes) => {
      cache.arrayBuffer ??= Promise.resolve(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      );
      return bytes;
    });
  }

  protected storeLocals(add: Readonly<Record<string, unknown>>): BulwarkLocals {
    const merged = mergeLocals(this.c.get("bulwark"), add);
    this.c.set("bulwark", merged);
    return merged;
  }
}

/**
 * Hono 4 middleware running `guards` in order. The first guard that answers ends the chain; headers of
 * continue outcomes are merged into whatever response the app produces — its own, `notFound`, or
 * `onError` — as defaults the app may override; locals are merged into `c.get("bulwark")`. A guard that
 * throws answers 500 `ERR_INTERNAL` (problem+json, no details) and is logged. An options object may come
 * first.
 */
export function protect(...args: GuardsOrOptions): MiddlewareHandler<BulwarkEnv> {
  const chain = resolveChain("protect", args);
  return async function bulwarkProtect(c, next) {
    if (c.get("bulwark") === undefined) c.set("bulwark", EMPTY_LOCALS);
    const view = new HonoView(chain, c);
    let verdict = runChain(view);
    if (isPending(verdict)) verdict = await verdict;
    if (verdict !== undefined) return view.answer(verdict);
    await next();
    const response = c.res;
    const finished = view.finish(response);
    if (finished !== response) {
      // Replace without Hono copying the old headers over (it would drop appended cookies).
      c.res = undefined;
      c.res = finished;
    }
  };
}
