export { type Clock, type ManualClock, manualClock, systemClock } from "./clock.js";
export { timingSafeEqual } from "./compare.js";
export {
  BulwarkError,
  type BulwarkErrorOptions,
  ERROR_CODES,
  type ErrorCode,
  isBulwarkError,
} from "./errors.js";
export {
  type ClientIp,
  type ClientIpOptions,
  cidrMatcher,
  clientIpResolver,
  formatIp,
  normalizeIp,
  type ParsedIp,
  parseForwardedFor,
  parseIp,
  trustCoversInternet,
} from "./ip.js";
export { consoleLogger, type Logger, memoryLogger, silentLogger } from "./logger.js";
export type {
  CapturedResponse,
  ContinueOutcome,
  Guard,
  HeaderList,
  Outcome,
  RespondOutcome,
} from "./outcome.js";
export { CONTINUE } from "./outcome.js";
export { problem } from "./problem.js";
export { type RequestView, viewFromParts, viewFromRequest } from "./request.js";
