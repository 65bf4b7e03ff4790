import { isBulwarkError } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, integer } from "../core/options.js";
import type { Guard, Outcome, RespondOutcome } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import type { RequestView } from "../core/request.js";
import type { WebhookVerifier } from "./types.js";
import { errorName } from "./verifier.js";

export interface WebhookGuardOptions {
  /** Largest body read; larger deliveries are answered 413. Default: 1 MiB. */
  maxBytes?: number;
  /** Where guard-level problems (body unavailable, too large) are logged. Default: console. */
  logger?: Logger;
}

/** What a verified delivery puts in the adapter's per-request locals, under `webhook`. */
export interface WebhookLocals<E = unknown> {
  readonly id: string;
  readonly timestamp: number | undefined;
  readonly event: E;
}

const JSON_HEADERS = [
  ["content-type", "application/json"],
  ["cache-control", "no-store"],
] as const;

/**
 * The one answer for every verification failure (missing, malformed or wrong signature, wrong
 * secret, stale or future timestamp, modified or empty body): same status, same body, so a client
 * learns nothing about which check failed. The specific code goes to the log only.
 */
export const VERIFICATION_FAILED: RespondOutcome = Object.freeze(
  problem(400, "ERR_WEBHOOK_VERIFICATION_FAILED", "Webhook verification failed"),
);
const MALFORMED_JSON = Object.freeze(
  problem(400, "ERR_WEBHOOK_BODY_MALFORMED_JSON", "Webhook payload is not valid JSON"),
);
const ID_MISSING = Object.freeze(problem(400, "ERR_WEBHOOK_ID_MISSING", "Webhook payload has no event id"));
const TOO_LARGE = Object.freeze(problem(413, "ERR_WEBHOOK_BODY_TOO_LARGE", "Webhook payload is too large"));
const UNAVAILABLE = Object.freeze(
  problem(503, "ERR_STORE_UNAVAILABLE", "Webhook replay store unavailable", [["retry-after", "5"]]),
);
const NO_BODY = Object.freeze(
  problem(500, "ERR_WEBHOOK_RAW_BODY_UNAVAILABLE", "Webhook raw body is unavailable"),
);
const DUPLICATE: RespondOutcome = Object.freeze({
  action: "respond",
  status: 200,
  headers: JSON_HEADERS,
  body: JSON.stringify({ received: true, duplicate: true }),
});

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * A Guard that reads the raw body (at most `maxBytes`), verifies it, and on success continues with
 * `locals.webhook = { id, timestamp, event }`. A duplicate delivery is answered 200 without running
 * the handler. When the handler's response is not 2xx the delivery id is forgotten, so the
 * provider's retry is processed instead of being mistaken for a replay.
 */
export function webhookGuard<E = unknown>(
  verifier: WebhookVerifier<E>,
  options: WebhookGuardOptions = {},
): Guard {
  const o = checkKeys("webhookGuard", options, ["maxBytes", "logger"]);
  if (verifier === null || typeof verifier !== "object" || typeof verifier.verifyWith !== "function") {
    throw configError("webhookGuard", "the first argument must be a verifier from webhookVerifier()");
  }
  const maxBytes = integer("webhookGuard", "maxBytes", o.maxBytes, 1024 * 1024, {
    min: 1,
    max: 64 * 1024 * 1024,
  });
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;
  const provider = verifier.provider;

  return async (view: RequestView): Promise<Outcome> => {
    if (view.rawBody === undefined) {
      logger.error({ provider, code: "ERR_WEBHOOK_RAW_BODY_UNAVAILABLE" }, "adapter supplied no raw body");
      return NO_BODY;
    }
    let body: Uint8Array;
    try {
      body = await view.rawBody(maxBytes);
    } catch (error) {
      if (isBulwarkError(error) && error.status === 413) {
        logger.warn({ provider, code: "ERR_WEBHOOK_BODY_TOO_LARGE", maxBytes }, "webhook body too large");
        return TOO_LARGE;
      }
      throw error;
    }
    if (body.length > maxBytes) {
      logger.warn({ provider, code: "ERR_WEBHOOK_BODY_TOO_LARGE", maxBytes }, "webhook body too large");
      return TOO_LARGE;
    }
    const result = await verifier.verifyWith(view, body);
    if (!result.ok) {
      switch (result.code) {
        case "ERR_WEBHOOK_REPLAYED":
          return DUPLICATE;
        case "ERR_WEBHOOK_BODY_MALFORMED_JSON":
          return MALFORMED_JSON;
        case "ERR_WEBHOOK_ID_MISSING":
          return ID_MISSING;
        case "ERR_STORE_UNAVAILABLE":
          return UNAVAILABLE;
        default:
          return VERIFICATION_FAILED;
      }
    }
    const { replayKey } = result;
    const webhook: WebhookLocals<E> = { id: result.id, timestamp: result.timestamp, event: result.event };
    return {
      action: "continue",
      locals: { webhook },
      onResponse: async (response) => {
        if (isSuccess(response.status)) return;
        try {
          await verifier.forget(replayKey);
        } catch (error) {
          logger.error(
            { provider, code: "ERR_STORE_UNAVAILABLE", error: errorName(error) },
            "could not forget a failed webhook delivery; the provider's retry may be taken for a replay",
          );
        }
      },
    };
  };
}
