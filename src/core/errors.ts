/**
 * Every error bulwark throws is a `BulwarkError` with a stable `code`.
 * Codes are part of the public API: they are documented, tested, and never reused for another meaning.
 * Messages never contain secrets, tokens, signatures or key material.
 */
export const ERROR_CODES = {
  ERR_CONFIG_INVALID: "Options passed to a factory are invalid; thrown at construction.",
  ERR_RATELIMIT_STORE_UNAVAILABLE: "The rate-limit store did not answer in time or answered garbage.",
  ERR_RATELIMIT_COST_EXCEEDS_LIMIT: "A check asked for a cost larger than a limit can ever admit.",
  ERR_RATELIMIT_EXCEEDED: "A rate limit denied the request.",
  ERR_RATELIMIT_BLOCKED: "The key is blocked or deny-listed.",
  ERR_RATELIMIT_INVALID_KEY: "A rate-limit key was not a non-empty string.",
  ERR_RATELIMIT_RESERVATION_UNKNOWN:
    "A reservation id was not found (already committed, released or expired).",
  ERR_CONCURRENCY_LIMIT_REACHED: "Every concurrency slot for the key is held.",
  ERR_LOGIN_LOCKED: "Too many failed logins; try again later.",
  ERR_STORE_UNAVAILABLE: "A store did not answer in time or answered garbage.",
  ERR_PROXY_UNTRUSTED_FORWARDED_HEADER: "X-Forwarded-For/Forwarded arrived while no proxy is trusted.",
  ERR_PROXY_TRUST_TOO_BROAD: "A trusted proxy range covers the whole internet.",
  ERR_KEY_GENERATOR_CONSTANT: "A key function returned the same key for requests from different clients.",
  // rate limiting (limiter core)
  ERR_RATELIMIT_INVALID_COST: "A cost or amount was not an integer ≥ 0.",
  // config + crypto: environment validation and field encryption
  ERR_ENV_INVALID:
    "Environment variables failed validation at start; each problem names the variable, never a secret's value.",
  ERR_CRYPTO_DECRYPT_FAILED:
    "A ciphertext could not be decrypted (tampered, bound to another record, unknown key or malformed); which one is not disclosed.",
  ERR_CRYPTO_INVALID_INPUT:
    "A value to encrypt or index was not a string, bytes or a JSON-serialisable value.",
  // browser-facing protections (csrf, cors)
  ERR_CSRF_ORIGIN_MISMATCH:
    "An unsafe request came from another origin that is not trusted (Fetch Metadata / Origin).",
  ERR_CSRF_TOKEN_MISSING: "An unsafe request carried no CSRF token in the header or form field.",
  ERR_CSRF_TOKEN_INVALID:
    "The CSRF token is malformed, forged, expired, or bound to another session (the reason is only logged).",
  ERR_CORS_PREFLIGHT_REJECTED: "A CORS preflight asked for an origin, method or header that is not allowed.",
  // observe: request context, logging, error responses, health, graceful shutdown
  ERR_INTERNAL:
    "The server failed while handling the request; details are in the log, never in the response.",
  ERR_CLIENT_REQUEST:
    "A framework or library rejected the request as invalid (a 4xx error that is not bulwark's).",
  ERR_METHOD_NOT_ALLOWED: "The endpoint does not accept this HTTP method.",
  // hygiene: body limits, safe JSON, parameter pollution, normalisation
  ERR_BODY_TOO_LARGE:
    "The request body is larger than the byte limit a guard or content type allows; answered 413.",
  ERR_BODY_UNSUPPORTED_MEDIA_TYPE: "The request body has a content type this endpoint does not accept.",
  ERR_BODY_UNSUPPORTED_CHARSET: "The request body declares a charset other than UTF-8.",
  ERR_BODY_INVALID_ENCODING: "The request body is not valid UTF-8.",
  ERR_BODY_READ_FAILED: "The request body could not be read (the client aborted or sent a broken stream).",
  ERR_BODY_UNAVAILABLE:
    "The raw request body cannot be supplied (consumed by another middleware first, or unsupported by the adapter).",
  ERR_JSON_MALFORMED: "The request body is not well-formed JSON.",
  ERR_JSON_PROTOTYPE_POLLUTION: "The JSON contains a __proto__ key or a constructor.prototype key.",
  ERR_PARAM_DUPLICATE: "A query or form parameter that is not declared as an array was repeated.",
  ERR_PARAM_TOO_MANY: "The query string or form has more parameters than allowed.",
  ERR_PARAM_FORBIDDEN_NAME: "A query or form parameter is named __proto__, constructor or prototype.",
  ERR_EMAIL_INVALID: "A value is not a syntactically valid e-mail address.",
  // webhooks
  ERR_WEBHOOK_VERIFICATION_FAILED:
    "A webhook delivery failed verification; the one public code for every signature/timestamp failure.",
  ERR_WEBHOOK_SIGNATURE_MISSING:
    "The signature header (or a header it needs) is absent or empty. Logged only.",
  ERR_WEBHOOK_SIGNATURE_MALFORMED: "The signature header could not be parsed. Logged only.",
  ERR_WEBHOOK_SIGNATURE_MISMATCH:
    "No signature matched any secret (wrong secret, modified body or timestamp). Logged only.",
  ERR_WEBHOOK_TIMESTAMP_TOO_OLD: "The signed timestamp is older than the tolerance. Logged only.",
  ERR_WEBHOOK_TIMESTAMP_IN_FUTURE: "The signed timestamp is further ahead than the tolerance. Logged only.",
  ERR_WEBHOOK_BODY_EMPTY: "The delivery has an empty body. Logged only.",
  ERR_WEBHOOK_BODY_MALFORMED_JSON: "The signature holds but the body is not valid JSON (400).",
  ERR_WEBHOOK_ID_MISSING: "The signature holds but the payload carries no event id (400).",
  ERR_WEBHOOK_REPLAYED:
    "The delivery id was already seen within the tolerance window (answered 200, not reprocessed).",
  ERR_WEBHOOK_BODY_TOO_LARGE: "The webhook body exceeds maxBytes (413).",
  ERR_WEBHOOK_RAW_BODY_UNAVAILABLE: "The adapter did not supply the raw body a webhook guard needs (500).",
  // idempotency
  ERR_IDEMPOTENCY_KEY_MISSING: "Idempotency-Key is required on this endpoint and was absent (400).",
  ERR_IDEMPOTENCY_KEY_INVALID:
    "Idempotency-Key is not an sf-string (or bare token) of 1–255 characters (400).",
  ERR_IDEMPOTENCY_KEY_REUSED:
    "Idempotency-Key was already used with a different method, target or body (422).",
  ERR_IDEMPOTENCY_IN_FLIGHT: "A request with the same Idempotency-Key is still being processed (409).",
  ERR_IDEMPOTENCY_BODY_TOO_LARGE: "The request body exceeds the idempotency guard's maxBytes (413).",
  ERR_IDEMPOTENCY_BODY_UNAVAILABLE:
    "The adapter did not supply the raw body needed for the fingerprint (500).",
  ERR_IDEMPOTENCY_SCOPE_INVALID: "The scope function threw or returned no owner (500).",
  ERR_IDEMPOTENCY_LOCK_EXPIRED:
    "A request outlived its idempotency lock; its response was not stored. Logged only.",
  ERR_IDEMPOTENCY_LEASE_LOST:
    "A processOnce handler outlived its lease and another attempt took over. Logged only.",
  // adapters
  ERR_BODY_INCOMPLETE: "The client stopped sending before the request body was complete; answered 400.",
  // auth: passwords, tokens, sessions, cookies
  ERR_PASSWORD_TOO_LONG: "A password longer than 1,024 bytes (UTF-8) was refused before hashing.",
  ERR_PASSWORD_INVALID: "A password was not a string.",
  ERR_PASSWORD_HASH_UNSUPPORTED:
    "A stored password hash is neither argon2 (PHC string) nor bcrypt ($2a$/$2b$/$2y$).",
  ERR_PASSWORD_HASHER_BUSY: "Every password-hashing slot and queue place is taken; retry later.",
  ERR_LOGIN_FAILED: "Wrong account name or password; the same answer whether or not the account exists.",
  ERR_ACCESS_TOKEN_MISSING: "A request needing an access token carried no Bearer token.",
  ERR_ACCESS_TOKEN_INVALID:
    "An access token was malformed, signed by an unknown key, badly signed or had wrong claims.",
  ERR_ACCESS_TOKEN_EXPIRED: "An access token was past its expiry (beyond the clock tolerance).",
  ERR_ACCESS_TOKEN_CLAIM_RESERVED:
    "Custom claims tried to set a registered claim the signer owns (iss, sub, aud, exp, …).",
  ERR_REFRESH_TOKEN_INVALID:
    "A refresh token was unknown, expired, revoked or already used (reuse revokes the session).",
  ERR_ONE_TIME_TOKEN_INVALID:
    "A one-time token was unknown, expired, already used, for another purpose or stale.",
  ERR_PASSWORD_REHASH_FAILED:
    "Storing the upgraded hash after a successful login failed (logged; the login stands).",
  ERR_AUTH_BACKGROUND_DROPPED:
    "An enumeration-safe flow's background queue was full; the job was dropped (logged).",
  ERR_AUTH_BACKGROUND_FAILED: "An enumeration-safe flow's background job failed (logged, never answered).",
  ERR_COOKIE_INVALID:
    "A cookie name, value or attribute is not allowed (e.g. __Host- without Path=/ or with Domain).",
  // tenancy: row-level security
  ERR_TENANT_ID_INVALID: "A tenant id was not a UUID.",
  ERR_TENANCY_ROLE_SUPERUSER:
    "The database role is (or can become) a superuser, which bypasses row-level security.",
  ERR_TENANCY_ROLE_BYPASSRLS: "The database role has (or can become a role with) BYPASSRLS.",
  ERR_TENANCY_TABLE_MISSING: "A tenant table named to the isolation check does not exist.",
  ERR_TENANCY_RLS_DISABLED: "A tenant table does not have row-level security enabled.",
  ERR_TENANCY_RLS_NOT_FORCED:
    "A tenant table lacks FORCE ROW LEVEL SECURITY, so its owner bypasses the policy.",
  ERR_TENANCY_POLICY_MISSING: "A tenant table has no policy filtering on the app.tenant_id setting.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES | (string & { readonly __bulwarkCode?: never });

export interface BulwarkErrorOptions {
  /** HTTP status to answer with when this error reaches an adapter. */
  status?: number;
  /** Structured, non-secret details for logs (never echoed to clients). */
  details?: Readonly<Record<string, unknown>>;
  cause?: unknown;
}

/** The one error class of bulwark. `code` is stable; match on it, never on `message`. */
export class BulwarkError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: BulwarkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BulwarkError";
    this.code = code;
    this.status = options.status ?? 500;
    this.details = options.details;
  }
}

/** True when `value` is a BulwarkError, optionally with the given code. */
export function isBulwarkError(value: unknown, code?: ErrorCode): value is BulwarkError {
  return value instanceof BulwarkError && (code === undefined || value.code === code);
}
