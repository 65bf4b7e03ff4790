export type { BulwarkLocals, ProtectOptions } from "../chain.js";
export {
  bulwarkLocals,
  FORWARDED_LOCALS_PREFIX,
  forwardedLocals,
  middleware,
  rawBodyOf,
  withGuards,
} from "./guards.js";
