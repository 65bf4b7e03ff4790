export type { BulwarkLocals, ProtectOptions } from "../chain.js";
export { protect, rawBodyOf } from "./protect.js";
