/**
 * The framework-free view of an incoming request that every capability reads.
 * Adapters build it without copying the request: `header` reads straight from the framework's
 * header storage, and `rawBody` is only read when a capability asks for it.
 */
export interface RequestView {
  /** Upper-case HTTP method. */
  readonly method: string;
  /** Request target as received: path plus query string, e.g. `/login?next=%2F`. */
  readonly url: string;
  /** Path without the query string. */
  readonly path: string;
  /** A header by lower-case name; repeated headers are joined with ", " (`set-cookie` excepted). */
  header(name: string): string | undefined;
  /** The address of the TCP peer (the socket), before any proxy header is considered. */
  readonly remoteAddress: string | undefined;
  /** Whether the connection to this server is TLS (`https`), as seen by the server itself. */
  readonly protocol: "http" | "https";
  /**
   * The raw request body, exactly as received. Adapters that can supply it read it at most once,
   * enforcing `maxBytes` (they answer 413 when it is exceeded). Absent when the body is unavailable.
   */
  rawBody?(maxBytes: number): Promise<Uint8Array>;
}

/** Builds a RequestView from a WHATWG `Request` (Hono, Next.js, tests). */
export function viewFromRequest(
  request: Request,
  options: { remoteAddress?: string | undefined } = {},
): RequestView {
  const parsed = new URL(request.url);
  return {
    method: request.method.toUpperCase(),
    url: parsed.pathname + parsed.search,
    path: parsed.pathname,
    header: (name) => request.headers.get(name) ?? undefined,
    remoteAddress: options.remoteAddress,
    protocol: parsed.protocol === "https:" ? "https" : "http",
  };
}

/** Builds a RequestView from plain values; convenient in tests and scripts. */
export function viewFromParts(parts: {
  method?: string;
  url?: string;
  headers?: Record<string, string | undefined>;
  remoteAddress?: string;
  protocol?: "http" | "https";
  body?: Uint8Array | string;
}): RequestView {
  const url = parts.url ?? "/";
  const q = url.indexOf("?");
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(parts.headers ?? {}))
    if (v !== undefined) headers.set(k.toLowerCase(), v);
  const body = parts.body;
  return {
    method: (parts.method ?? "GET").toUpperCase(),
    url,
    path: q === -1 ? url : url.slice(0, q),
    header: (name) => headers.get(name.toLowerCase()),
    remoteAddress: parts.remoteAddress,
    protocol: parts.protocol ?? "http",
    ...(body === undefined
      ? {}
      : { rawBody: async () => (typeof body === "string" ? new TextEncoder().encode(body) : body) }),
  };
}
