import { absoluteUrl, csrfTokenManager, defaultBaseUrl, type FetchLike } from "./manager.js";
import { isTokenRejection, isUnsafeMethod } from "./protocol.js";

/** Options of {@link createCsrfFetch}. */
export interface CsrfFetchOptions {
  /** The server's token endpoint, e.g. `"/csrf-token"`. Its origin is the only one tokens are sent to. */
  tokenUrl: string | URL;
  /** The `fetch` to wrap (and to fetch tokens with). Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Header the token is sent in. Default `"x-csrf-token"`. */
  headerName?: string;
  /** Base for relative URLs. Default `location.href` (page or worker). */
  baseUrl?: string;
  /** A token already rendered into the page (e.g. a `<meta>` tag), used before fetching one. */
  initialToken?: string;
}

/**
 * Wraps `fetch` so that unsafe requests (POST, PUT, PATCH, DELETE, …) to the token's origin carry
 * the CSRF token. The token is fetched once per origin and shared (20 concurrent requests cause one
 * token request). When the server refuses the token (403 `ERR_CSRF_TOKEN_*`), the token is refreshed
 * once and the request retried once; a second refusal is returned as is. Safe and cross-origin
 * requests pass through untouched and never see the token.
 */
export function createCsrfFetch(options: CsrfFetchOptions): FetchLike {
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const manager = csrfTokenManager({ tokenUrl: options.tokenUrl, fetch: options.fetch, baseUrl });
  if (options.initialToken !== undefined) manager.seed(options.initialToken);
  const headerName = options.headerName ?? "x-csrf-token";
  const send: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  const withToken = (request: Request, token: string): Request => {
    const headers = new Headers(request.headers);
    headers.set(headerName, token);
    return new Request(request, { headers });
  };

  return async function csrfFetch(input, init) {
    const isRequest = typeof Request !== "undefined" && input instanceof Request;
    const method = init?.method ?? (isRequest ? (input as Request).method : "GET");
    if (!isUnsafeMethod(method)) return send(input, init);
    const target = absoluteUrl(isRequest ? (input as Request).url : (input as string | URL), baseUrl);
    if (target.origin !== manager.origin) return send(input, init);

    const request = new Request(isRequest ? (input as Request) : target.href, init);
    const token = await manager.token();
    const first = await send(withToken(request.clone(), token));
    if (!(await isTokenRejection(first))) return first;
    let fresh: string;
    try {
      fresh = await manager.refresh(token);
    } catch {
      return first; // the token endpoint failed: report the server's refusal, not a network error
    }
    return send(withToken(request, fresh));
  };
}
