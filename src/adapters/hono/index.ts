export type { BulwarkLocals, ProtectOptions } from "../chain.js";
export { type BulwarkEnv, protect } from "./protect.js";
