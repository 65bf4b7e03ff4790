export {
  type AlgorithmState,
  type CheckEvaluation,
  type CompiledLimit,
  compileLimit,
  type Evaluation,
  evaluate,
  evaluateCheck,
  evaluateInto,
  refund,
  refundInto,
  STATE_SIZE,
  writeFreshState,
} from "./algorithms.js";
export {
  type AcquireResult,
  type ConcurrencyCode,
  type ConcurrencyLimiter,
  type ConcurrencyLimitOptions,
  concurrencyLimit,
  type Lease,
} from "./concurrency.js";
export { type RateLimitGuardOptions, rateLimitGuard } from "./guard.js";
export {
  formatRateLimit,
  formatRateLimitPolicy,
  type PolicyLike,
  retryAfterSeconds,
  type ServiceLimitLike,
  sfString,
} from "./headers.js";
export { MAX_KEY_BYTES, normalizeKey } from "./keys.js";
export {
  type CheckOptions,
  type LimitReport,
  type ListOptions,
  type RateLimitCode,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitOptions,
  type RateLimitStats,
  type Reservation,
  type ReserveOptions,
  type ReserveResult,
  rateLimit,
} from "./limiter.js";
export { ALGORITHMS, type LimitOptions, MAX_LIMITS, MAX_WINDOW_MS, validateLimits } from "./limits.js";
export {
  type LoginCode,
  type LoginDecision,
  type LoginGuard,
  type LoginGuardOptions,
  loginGuard,
  loginLockedResponse,
} from "./login.js";
export type {
  Algorithm,
  ConcurrencyStore,
  ConsumeRequest,
  LeaseDecision,
  LimitSpec,
  LimitState,
  RateLimitStore,
  StoreDecision,
} from "./types.js";
