import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/logger.js";

/** Request headers as a WHATWG `Headers` or a plain record (Node's `IncomingHttpHeaders` fits). */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** What `verify` reads: the headers and the body exactly as received. */
export interface VerifyInput {
  readonly headers: WebhookHeaders;
  /** The raw body bytes (a `Buffer` is fine) or, when only text is available, the exact text. */
  readonly rawBody: Uint8Array | string;
}

/** A delivery whose signature, timestamp, payload and (when configured) replay check all held. */
export interface VerifySuccess<E = unknown> {
  readonly ok: true;
  /** The delivery's id: Stripe's `event.id`, `webhook-id`, `X-GitHub-Delivery`, or the configured id header. */
  readonly id: string;
  /** The signed timestamp in seconds since the epoch; undefined for schemes that sign none (GitHub). */
  readonly timestamp: number | undefined;
  /** The parsed JSON payload (or the text when `parse: "text"`). */
  readonly event: E;
  /** The key remembered in the replay store for this delivery; pass it to `verifier.forget`. */
  readonly replayKey: string;
}

/** Codes a verification can fail with. Only the log sees them; the edge answers one generic code. */
export type VerifyFailureCode =
  | "ERR_WEBHOOK_SIGNATURE_MISSING"
  | "ERR_WEBHOOK_SIGNATURE_MALFORMED"
  | "ERR_WEBHOOK_SIGNATURE_MISMATCH"
  | "ERR_WEBHOOK_TIMESTAMP_TOO_OLD"
  | "ERR_WEBHOOK_TIMESTAMP_IN_FUTURE"
  | "ERR_WEBHOOK_BODY_EMPTY"
  | "ERR_WEBHOOK_BODY_MALFORMED_JSON"
  | "ERR_WEBHOOK_ID_MISSING"
  | "ERR_WEBHOOK_REPLAYED"
  | "ERR_STORE_UNAVAILABLE";

export interface VerifyFailure {
  readonly ok: false;
  readonly code: VerifyFailureCode;
  /** Set for `ERR_WEBHOOK_REPLAYED` (the duplicate's id); never set before the signature held. */
  readonly id?: string;
}

export type VerifyResult<E = unknown> = VerifySuccess<E> | VerifyFailure;

/**
 * Remembers delivery ids for replay protection. `remember` is atomic: of any number of concurrent
 * calls with one key, exactly one resolves true until the key expires or is forgotten.
 * Implementations: `memoryReplayStore` (bulwark/memory), `redisReplayStore` (SET NX PX),
 * `postgresReplayStore` (INSERT … ON CONFLICT).
 */
export interface ReplayStore {
  readonly kind: string;
  /** Resolves true when `key` was not remembered (and now is, for `ttlMs`); false for a duplicate. */
  remember(key: string, ttlMs: number): Promise<boolean>;
  /** Forgets `key`, so a redelivery is processed again (used when handling a delivery failed). */
  forget(key: string): Promise<void>;
}

/** A generic HMAC scheme for providers without a built-in preset. */
export interface HmacProviderOptions {
  /** Header carrying the signature, e.g. "x-signature". */
  readonly header: string;
  /** How the signature is written in the header. */
  readonly encoding: "hex" | "base64";
  /** Text before the signature in the header, e.g. "sha256=". Default: none. */
  readonly prefix?: string;
  /** Signed content; `{body}` exactly once, optionally `{id}` and `{timestamp}`. Default: "{body}". */
  readonly content?: string;
  /** HMAC hash. Default: "sha256". */
  readonly algorithm?: "sha256" | "sha512";
  /** Header carrying the delivery id (required when `content` uses `{id}`). */
  readonly idHeader?: string;
  /** Header carrying the unix timestamp in seconds (required when `content` uses `{timestamp}`). */
  readonly timestampHeader?: string;
}

export type WebhookProvider =
  | "stripe"
  | "standard-webhooks"
  | "github"
  | { readonly hmac: HmacProviderOptions };

export interface WebhookVerifierOptions {
  /** Which signature scheme to verify. */
  provider: WebhookProvider;
  /**
   * Secrets tried in order; list the new one and the old one while rotating. Stripe: `whsec_…`
   * strings used as is. Standard Webhooks: `whsec_…` (HMAC, v1), `whpk_…` / `whsk_…` (Ed25519, v1a).
   * GitHub and generic HMAC: the shared secret as text, or raw bytes.
   */
  secrets: ReadonlyArray<string | Uint8Array>;
  /** Maximum age and maximum future skew of a signed timestamp. Default: 300 s. */
  toleranceSeconds?: number;
  /** Where delivery ids are remembered. Default: a per-process memory store (100k ids). */
  replayStore?: ReplayStore;
  /** Turns replay protection off (the timestamp tolerance still applies). Default: false. */
  dangerouslyDisableReplayProtection?: boolean;
  /** How the verified body becomes `event`. Default: "json". */
  parse?: "json" | "text";
  /** Time source. Default: the system clock. */
  clock?: Clock;
  /** Where failures are logged (code only, nothing secret). Default: console (warn and error). */
  logger?: Logger;
}

export interface WebhookVerifier<E = unknown> {
  readonly provider: string;
  /** Verifies one delivery. Never throws for a bad delivery; resolves a failure with a code instead. */
  verify(input: VerifyInput): Promise<VerifyResult<E>>;
  /** Same as `verify`, reading headers by lower-case name (a RequestView fits). Used by `webhookGuard`. */
  verifyWith(
    headers: { header(name: string): string | undefined },
    rawBody: Uint8Array | string,
  ): Promise<VerifyResult<E>>;
  /** Forgets a remembered delivery (by `replayKey`) so the provider's retry is processed. */
  forget(replayKey: string): Promise<void>;
}
