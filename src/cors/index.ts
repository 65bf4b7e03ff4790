export { type CorsOptions, cors } from "./cors.js";
export type { OriginPattern } from "./origins.js";
