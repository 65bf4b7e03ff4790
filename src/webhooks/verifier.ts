import { type Clock, systemClock } from "../core/clock.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { boolean, checkKeys, configError, describe, didYouMean, integer, oneOf } from "../core/options.js";
import { memoryReplayStore } from "../stores/memory/webhooks.js";
import { backend } from "./crypto.js";
import { compileScheme, type HeaderSource } from "./schemes.js";
import type {
  ReplayStore,
  VerifyFailure,
  VerifyFailureCode,
  VerifyInput,
  VerifyResult,
  WebhookHeaders,
  WebhookVerifier,
  WebhookVerifierOptions,
} from "./types.js";

const WHERE = "webhookVerifier";
const KNOWN = [
  "provider",
  "secrets",
  "toleranceSeconds",
  "replayStore",
  "dangerouslyDisableReplayProtection",
  "parse",
  "clock",
  "logger",
] as const;
const PROVIDERS = ["stripe", "standard-webhooks", "github"];
const MAX_SECRETS = 10;
const MAX_ID_LENGTH = 256;

const canonicalNames = new Map<string, string>();
/** "stripe-signature" → "Stripe-Signature", the casing most frameworks and clients use. */
function canonical(name: string): string {
  let c = canonicalNames.get(name);
  if (c === undefined) {
    c = name.replace(/(^|-)([a-z])/g, (_, dash: string, ch: string) => dash + ch.toUpperCase());
    canonicalNames.set(name, c);
  }
  return c;
}

/** Reads a WHATWG `Headers`. */
class FetchHeaders implements HeaderSource {
  constructor(private readonly headers: Headers) {}
  header(name: string): string | undefined {
    return this.headers.get(name) ?? undefined;
  }
}

/** Reads a plain record of any key casing (Node's `IncomingHttpHeaders`, a literal, …). */
class RecordHeaders implements HeaderSource {
  constructor(private readonly record: Readonly<Record<string, string | readonly string[] | undefined>>) {}
  header(name: string): string | undefined {
    const record = this.record;
    let value = record[name] ?? record[canonical(name)];
    if (value === undefined) {
      for (const key in record) {
        if (key.length === name.length && key.toLowerCase() === name) {
          value = record[key];
          break;
        }
      }
    }
    if (value === undefined) return undefined;
    return typeof value === "string" ? value : value.join(", ");
  }
}

/** A lower-case-name header reader over `Headers` or a plain record of any casing. */
export function headerSource(headers: WebhookHeaders): HeaderSource {
  return typeof (headers as Headers).get === "function"
    ? new FetchHeaders(headers as Headers)
    : new RecordHeaders(headers as Readonly<Record<string, string | readonly string[] | undefined>>);
}

function isReplayStore(value: unknown): value is ReplayStore {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as ReplayStore).remember === "function" &&
    typeof (value as ReplayStore).forget === "function"
  );
}

/**
 * Creates a webhook verifier for one provider. Options are validated once (ERR_CONFIG_INVALID);
 * keys are decoded and prepared here, so `verify` does one HMAC per secret, a constant-time compare,
 * one UTF-8 decode and one `JSON.parse` — and the JSON is parsed only after the signature held.
 */
export function webhookVerifier<E = unknown>(options: WebhookVerifierOptions): WebhookVerifier<E> {
  const o = checkKeys(WHERE, options, KNOWN);
  if (typeof o.provider === "string" && !PROVIDERS.includes(o.provider)) {
    const hint = didYouMean(o.provider, PROVIDERS);
    throw configError(
      WHERE,
      `"provider" must be "stripe", "standard-webhooks", "github" or { hmac: {…} }, got "${o.provider}"${
        hint ? ` — did you mean "${hint}"?` : ""
      }`,
    );
  }
  if (!Array.isArray(o.secrets) || o.secrets.length === 0 || o.secrets.length > MAX_SECRETS) {
    throw configError(
      WHERE,
      `"secrets" must be an array of 1–${MAX_SECRETS} secrets, got ${describe(o.secrets)}`,
    );
  }
  const scheme = compileScheme(options.provider, [...(o.secrets as Array<string | Uint8Array>)]);
  const toleranceSeconds = integer(WHERE, "toleranceSeconds", o.toleranceSeconds, 300, { min: 1, max: 3600 });
  const parse = oneOf(WHERE, "parse", o.parse, ["json", "text"], "json");
  if (parse === "text" && scheme.name === "stripe") {
    throw configError(WHERE, 'Stripe deliveries carry their id in the JSON body; "parse" must be "json"');
  }
  const clock = (o.clock ?? systemClock) as Clock;
  if (typeof clock.now !== "function") throw configError(WHERE, `"clock" must have a now() function`);
  const logger = (o.logger ?? consoleLogger) as Logger;
  if (typeof logger.warn !== "function") throw configError(WHERE, `"logger" must be a Logger`);
  const disabled = boolean(
    WHERE,
    "dangerouslyDisableReplayProtection",
    o.dangerouslyDisableReplayProtection,
    false,
  );
  if (o.replayStore !== undefined && !isReplayStore(o.replayStore)) {
    throw configError(
      WHERE,
      `"replayStore" must have remember() and forget(), got ${describe(o.replayStore)}`,
    );
  }
  if (disabled && o.replayStore !== undefined) {
    throw configError(WHERE, '"replayStore" and "dangerouslyDisableReplayProtection" contradict each other');
  }
  const replay: ReplayStore | undefined = disabled
    ? undefined
    : ((o.replayStore as ReplayStore | undefined) ?? memoryReplayStore({ clock }));
  if (disabled) {
    logger.warn(
      { provider: scheme.name, option: "dangerouslyDisableReplayProtection" },
      "webhook replay protection is disabled; a captured delivery can be replayed within the tolerance window",
    );
  }

  const failed = (code: VerifyFailureCode): VerifyFailure => {
    logger.warn({ provider: scheme.name, code }, "webhook delivery rejected");
    return { ok: false, code };
  };

  async function verifyWith(headers: HeaderSource, rawBody: Uint8Array | string): Promise<VerifyResult<E>> {
    if (typeof rawBody !== "string" && !(rawBody instanceof Uint8Array)) {
      throw configError(
        "verify",
        `"rawBody" must be the raw bytes or text as received, got ${describe(rawBody)}`,
      );
    }
    const nowMs = clock.now();
    let checked = scheme.check(headers, rawBody, Math.floor(nowMs / 1000), toleranceSeconds);
    if (checked instanceof Promise) checked = await checked;
    if (!checked.ok) return failed(checked.code);

    const text = typeof rawBody === "string" ? rawBody : backend.utf8(rawBody);
    let event: E;
    if (parse === "json") {
      try {
        event = JSON.parse(text) as E;
      } catch {
        return failed("ERR_WEBHOOK_BODY_MALFORMED_JSON");
      }
    } else {
      event = text as E;
    }
    let id = checked.id;
    if (id === undefined) {
      const bodyId = (event as { id?: unknown } | null)?.id;
      if (typeof bodyId !== "string" || bodyId.length === 0 || bodyId.length > MAX_ID_LENGTH) {
        return failed("ERR_WEBHOOK_ID_MISSING");
      }
      id = bodyId;
    }
    const replayKey = `${scheme.name}:${checked.replayId ?? id}`;
    if (replay !== undefined) {
      // Remember the id until its timestamp leaves the window (a replay is rejected as stale after that).
      const ttlMs =
        checked.timestamp === undefined
          ? toleranceSeconds * 1000
          : Math.max(1000, (checked.timestamp + toleranceSeconds) * 1000 - nowMs);
      let fresh: boolean;
      try {
        fresh = await replay.remember(replayKey, ttlMs);
      } catch (error) {
        logger.error(
          {
            provider: scheme.name,
            code: "ERR_STORE_UNAVAILABLE",
            store: replay.kind,
            error: errorName(error),
          },
          "webhook replay store failed",
        );
        return { ok: false, code: "ERR_STORE_UNAVAILABLE" };
      }
      if (!fresh) {
        logger.info(
          { provider: scheme.name, code: "ERR_WEBHOOK_REPLAYED", id },
          "webhook delivery is a duplicate",
        );
        return { ok: false, code: "ERR_WEBHOOK_REPLAYED", id };
      }
    }
    return { ok: true, id, timestamp: checked.timestamp, event, replayKey };
  }

  return {
    provider: scheme.name,
    verify(input: VerifyInput) {
      if (
        input === null ||
        typeof input !== "object" ||
        input.headers === null ||
        typeof input.headers !== "object"
      ) {
        return Promise.reject(configError("verify", "expected { headers, rawBody }"));
      }
      return verifyWith(headerSource(input.headers), input.rawBody);
    },
    verifyWith,
    async forget(replayKey: string) {
      if (replay !== undefined) await replay.forget(replayKey);
    },
  };
}

/** The error's class name (never its message, which may echo input). */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
