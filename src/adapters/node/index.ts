export type { BulwarkLocals, ProtectOptions } from "../chain.js";
export { bulwarkLocals, type NodeHandler, protect, rawBodyOf } from "./protect.js";
