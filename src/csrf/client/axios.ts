import { absoluteUrl, csrfTokenManager, defaultBaseUrl, type FetchLike } from "./manager.js";
import { isTokenRejectionBody, isUnsafeMethod } from "./protocol.js";

/**
 * The parts of an axios request config this interceptor reads and writes. Typed structurally so
 * this module never imports axios; an `AxiosInstance` satisfies {@link AxiosLike}.
 */
export interface AxiosLikeConfig {
  url?: string;
  baseURL?: string;
  method?: string;
  headers?: unknown;
  bulwarkCsrf?: { token?: string; retried?: boolean };
}

interface AxiosLikeError {
  config?: AxiosLikeConfig;
  response?: { status?: number; data?: unknown };
}

/** The axios instance surface used: interceptors and `request` (to retry once). */
export interface AxiosLike {
  interceptors: {
    request: {
      // biome-ignore lint/suspicious/noExplicitAny: axios types the config as its own class; accept any
      use(onFulfilled: (config: any) => any): number;
    };
    response: {
      // biome-ignore lint/suspicious/noExplicitAny: axios passes its own response and error types
      use(onFulfilled: (response: any) => any, onRejected: (error: any) => any): number;
    };
  };
  // biome-ignore lint/suspicious/noExplicitAny: the retried config is axios's own
  request(config: any): Promise<unknown>;
}

/** Options of {@link csrfAxios}. */
export interface CsrfAxiosOptions {
  /** The server's token endpoint, e.g. `"/csrf-token"`. Its origin is the only one tokens are sent to. */
  tokenUrl: string | URL;
  /** `fetch` used for token requests when this call creates the shared manager. Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Header the token is sent in. Default `"x-csrf-token"`. */
  headerName?: string;
  /** Base for relative URLs. Default `location.href` (page or worker). */
  baseUrl?: string;
  /** A token already rendered into the page, used before fetching one. */
  initialToken?: string;
}

function joinUrl(baseURL: string | undefined, url: string | undefined): string {
  const path = url ?? "";
  if (baseURL === undefined || baseURL === "" || /^[a-z][a-z\d+.-]*:/i.test(path) || path.startsWith("//")) {
    return path;
  }
  return path === "" ? baseURL : `${baseURL.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

function setHeader(config: AxiosLikeConfig, name: string, value: string): void {
  const headers = config.headers as
    | { set?: (n: string, v: string) => unknown }
    | Record<string, string>
    | undefined;
  if (headers !== undefined && typeof headers.set === "function") headers.set(name, value);
  else config.headers = { ...(headers as Record<string, string> | undefined), [name]: value };
}

/**
 * Installs CSRF interceptors on an axios instance: unsafe requests to the token's origin carry the
 * token (one shared, single-flight token per origin); a 403 `ERR_CSRF_TOKEN_*` refreshes the token
 * once and retries the request once. Returns the instance.
 */
export function csrfAxios<T extends AxiosLike>(instance: T, options: CsrfAxiosOptions): T {
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const manager = csrfTokenManager({ tokenUrl: options.tokenUrl, fetch: options.fetch, baseUrl });
  if (options.initialToken !== undefined) manager.seed(options.initialToken);
  const headerName = options.headerName ?? "x-csrf-token";

  instance.interceptors.request.use(async (config: AxiosLikeConfig) => {
    if (!isUnsafeMethod(config.method)) return config;
    const target = absoluteUrl(joinUrl(config.baseURL, config.url), baseUrl);
    if (target.origin !== manager.origin) return config;
    const token = await manager.token();
    config.bulwarkCsrf = { ...config.bulwarkCsrf, token };
    setHeader(config, headerName, token);
    return config;
  });

  instance.interceptors.response.use(
    (response: unknown) => response,
    async (error: AxiosLikeError) => {
      const config = error?.config;
      const state = config?.bulwarkCsrf;
      if (
        config === undefined ||
        state?.token === undefined ||
        state.retried === true ||
        error.response?.status !== 403 ||
        !isTokenRejectionBody(error.response.data)
      ) {
        throw error;
      }
      try {
        await manager.refresh(state.token);
      } catch {
        throw error; // the token endpoint failed: surface the server's refusal
      }
      config.bulwarkCsrf = { retried: true };
      return instance.request(config);
    },
  );
  return instance;
}
