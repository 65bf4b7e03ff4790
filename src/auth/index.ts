export {
  type AccessTokenAlgorithm,
  type AccessTokenDecision,
  type AccessTokenKey,
  type AccessTokenOptions,
  type AccessTokens,
  accessTokens,
  type BearerGuardOptions,
  bearerGuard,
  generateAccessTokenKey,
} from "./access.js";
export {
  type CookieOptions,
  clearCookie,
  parseCookies,
  readCookie,
  type SameSite,
  type SessionCookie,
  type SessionCookieOptions,
  serializeCookie,
  sessionCookie,
} from "./cookies.js";
export { type EnumerationSafeFlow, type EnumerationSafeOptions, enumerationSafe } from "./enumeration.js";
export {
  type LoginAccount,
  type LoginAttempt,
  type LoginFailureCode,
  type LoginResult,
  type LoginThrottle,
  loginProblem,
  type PasswordLoginOptions,
  passwordLogin,
  type ThrottleDecision,
} from "./login.js";
export { memoryAuthStore } from "./memory.js";
export {
  type IssueOneTimeToken,
  ONE_TIME_TOKEN_TTL_MS,
  type OneTimeDecision,
  type OneTimePurpose,
  type OneTimeTokenOptions,
  type OneTimeTokens,
  oneTimeTokens,
} from "./onetime.js";
export {
  defaultPasswordHasher,
  type HashCallOptions,
  hashPassword,
  MAX_PASSWORD_BYTES,
  OWASP_ARGON2ID,
  type PasswordCheck,
  type PasswordHasher,
  type PasswordHasherOptions,
  type PasswordHasherStats,
  passwordHasher,
  verifyPassword,
  verifyUnknownAccount,
} from "./password.js";
export {
  type IssuedRefreshToken,
  type RefreshDecision,
  type RefreshFailureReason,
  type RefreshTokenOptions,
  type RefreshTokens,
  refreshTokens,
  type SessionContext,
} from "./refresh.js";
export { credentialEpoch, randomToken, tokenDigest } from "./secrets.js";
export type {
  AuthStore,
  CreateFamilyInput,
  OneTimeTokenRecord,
  OneTimeTokenStore,
  RefreshTokenStore,
  RevokeReason,
  RotateInput,
  RotateOutcome,
  SessionRecord,
} from "./store.js";
export { compareTimings, type TimingComparison } from "./timing.js";
