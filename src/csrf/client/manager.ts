/**
 * One CSRF token manager per origin, shared by every client instance in the same JavaScript realm
 * (page, web worker, or a third-party widget bundled with its own copy of this code): the registry
 * lives on `globalThis` under a `Symbol.for` key, so separately bundled copies find each other.
 *
 * Browser-only code: no Node imports, only Web APIs (`fetch`, `URL`, `Headers`).
 */

/** The contract shared across bundles; keep it backwards compatible (its key carries a version). */
export interface CsrfTokenManager {
  /** The origin the token belongs to; tokens are only ever sent there. */
  readonly origin: string;
  /** The absolute URL tokens are fetched from. */
  readonly tokenUrl: string;
  /** The current token, fetching one when there is none. Concurrent callers share one fetch. */
  token(): Promise<string>;
  /**
   * A replacement for `stale` (the token a request was refused with). When another caller already
   * replaced it, resolves to that token without fetching; concurrent callers share one fetch.
   */
  refresh(stale: string | undefined): Promise<string>;
  /** Uses `token` (e.g. one rendered into the page) unless the manager already holds one. */
  seed(token: string): void;
  /** How many token requests this manager has started; for diagnostics and tests. */
  readonly fetchCount: number;
}

/** A `fetch`-compatible function. */
export type FetchLike = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

const REGISTRY_KEY = Symbol.for("bulwark.csrf.tokenManagers.v1");

type Registry = Map<string, CsrfTokenManager>;

function registry(): Registry {
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  let found = holder[REGISTRY_KEY];
  if (found === undefined) {
    found = new Map();
    Object.defineProperty(globalThis, REGISTRY_KEY, { value: found, configurable: true });
  }
  return found;
}

/** The page's (or worker's) own URL, used to resolve relative URLs. */
export function defaultBaseUrl(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}

/** Resolves `url` against `base`; throws a clear error when a relative URL has nothing to resolve against. */
export function absoluteUrl(url: string | URL, base: string | undefined): URL {
  try {
    return new URL(url, base);
  } catch {
    throw new TypeError(
      `bulwark csrf client: cannot resolve URL "${String(url)}" (pass an absolute URL or baseUrl)`,
    );
  }
}

interface TokenBody {
  token?: unknown;
}

function createManager(tokenUrl: URL, fetchImpl: FetchLike): CsrfTokenManager {
  let current: string | undefined;
  let pending: Promise<string> | undefined;
  let fetchCount = 0;

  async function fetchToken(): Promise<string> {
    fetchCount++;
    const response = await fetchImpl(tokenUrl.href, {
      method: "GET",
      credentials: "include",
      cache: "no-store",
      headers: { accept: "application/json" },
    });
    if (!response.ok) throw new Error(`bulwark csrf client: token request answered ${response.status}`);
    const body = (await response.json()) as TokenBody;
    if (typeof body?.token !== "string" || body.token.length === 0) {
      throw new Error("bulwark csrf client: token response has no token");
    }
    return body.token;
  }

  function load(): Promise<string> {
    if (pending === undefined) {
      pending = fetchToken().then(
        (token) => {
          current = token;
          pending = undefined;
          return token;
        },
        (error: unknown) => {
          pending = undefined;
          throw error;
        },
      );
    }
    return pending;
  }

  return {
    origin: tokenUrl.origin,
    tokenUrl: tokenUrl.href,
    token: () => (current !== undefined ? Promise.resolve(current) : load()),
    refresh(stale) {
      if (current !== undefined && current !== stale) return Promise.resolve(current);
      current = undefined;
      return load();
    },
    seed(token) {
      if (current === undefined && pending === undefined && token.length > 0) current = token;
    },
    get fetchCount() {
      return fetchCount;
    },
  };
}

export interface TokenManagerOptions {
  /** Where tokens come from, e.g. `"/csrf-token"`; relative URLs resolve against `baseUrl`. */
  tokenUrl: string | URL;
  /** `fetch` used for token requests when this call creates the manager. Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Base for relative URLs. Default `location.href` (page or worker). */
  baseUrl?: string;
}

/**
 * The shared manager for the origin of `tokenUrl`, created on first use. Later callers for the same
 * origin get the same manager (and its token URL and fetch), whatever they pass.
 */
export function csrfTokenManager(options: TokenManagerOptions): CsrfTokenManager {
  const url = absoluteUrl(options.tokenUrl, options.baseUrl ?? defaultBaseUrl());
  const managers = registry();
  let manager = managers.get(url.origin);
  if (manager === undefined) {
    const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    manager = createManager(url, fetchImpl);
    managers.set(url.origin, manager);
  }
  return manager;
}

/** Forgets every shared manager in this realm (tests, or after a logout that changes the session). */
export function resetCsrfTokenManagers(): void {
  registry().clear();
}
