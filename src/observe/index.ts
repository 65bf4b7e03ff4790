export {
  type PingClient,
  postgresCheck,
  type QueryClient,
  redisCheck,
  type StoreCheckOptions,
} from "./checks.js";
export {
  currentRequestId,
  parseTraceparent,
  type RequestContext,
  type RequestContextGuard,
  type RequestContextOptions,
  requestContext,
  requestContextGuard,
  runWithRequestContext,
  type TraceParent,
} from "./context.js";
export {
  type ErrorHandler,
  type ErrorHandlerOptions,
  type ErrorInfo,
  errorHandler,
  errorResponse,
} from "./error-response.js";
export {
  type CheckReport,
  type CheckResult,
  type Health,
  type HealthCheck,
  type HealthOptions,
  type HealthReport,
  type HealthStatus,
  health,
} from "./health.js";
export { type CreateLoggerOptions, createLogger } from "./logger.js";
export {
  createRedactor,
  DEFAULT_SENSITIVE_KEYS,
  DEFAULT_SENSITIVE_PARAMS,
  DEFAULT_SENSITIVE_SUFFIXES,
  normalizeKey,
  REDACTED,
  type Redactor,
  type RedactorOptions,
} from "./redact.js";
export {
  type GracefulShutdownOptions,
  gracefulShutdown,
  type ShutdownController,
  type ShutdownHook,
  type ShutdownResult,
  type ShutdownServer,
} from "./shutdown.js";
