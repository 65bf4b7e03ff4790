export { type AxiosLike, type AxiosLikeConfig, type CsrfAxiosOptions, csrfAxios } from "./axios.js";
export { type CsrfFetchOptions, createCsrfFetch } from "./fetch.js";
export {
  type CsrfTokenManager,
  csrfTokenManager,
  type FetchLike,
  resetCsrfTokenManagers,
  type TokenManagerOptions,
} from "./manager.js";
