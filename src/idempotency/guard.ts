import { timingSafeEqual } from "../core/compare.js";
import { isBulwarkError } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { boolean, checkKeys, configError, describe, integer } from "../core/options.js";
import {
  type CapturedResponse,
  CONTINUE,
  type Guard,
  type HeaderList,
  type Outcome,
} from "../core/outcome.js";
import { problem } from "../core/problem.js";
import type { RequestView } from "../core/request.js";
import { backend, toHex } from "../webhooks/crypto.js";
import { parseIdempotencyKey } from "./key.js";
import type { IdempotencyStore, StoredResponse } from "./types.js";

export interface IdempotencyOptions {
  /** Where keys, fingerprints and responses live (memory, Redis, Postgres/PGlite). Required. */
  store: IdempotencyStore;
  /**
   * Whose keys these are: a user or tenant id read from the request. Keys are looked up per scope,
   * so one client can never replay another's response. Required; return a constant only for
   * endpoints without any notion of a caller.
   */
  scope: (view: RequestView) => string | Promise<string>;
  /** Whether a request without `Idempotency-Key` is refused (400). Default: false (it passes through). */
  required?: boolean;
  /** How long a completed response is replayed. Default: 24 h. */
  ttlMs?: number;
  /** How long an in-flight request holds its key before a crashed request's key frees up. Default: 60 s. */
  lockMs?: number;
  /** Methods the guard applies to. Default: ["POST", "PATCH"]. */
  methods?: readonly string[];
  /** Largest request body read for the fingerprint; larger requests are answered 413. Default: 1 MiB. */
  maxBytes?: number;
  /** Where store failures are logged. Default: console. */
  logger?: Logger;
}

const WHERE = "idempotency";
const HOUR_MS = 3_600_000;

/** Response headers never stored or replayed: credentials and per-connection framing. */
const UNSTORED_HEADERS = new Set([
  "set-cookie",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "date",
  "idempotent-replayed",
  "proxy-connection",
  "trailer",
  "upgrade",
]);

/** Statuses that mean "not processed, try again": never stored, the key is released instead. */
function isStorable(status: number): boolean {
  return status < 500 && status !== 408 && status !== 425 && status !== 429;
}

const MISSING = problem(400, "ERR_IDEMPOTENCY_KEY_MISSING", "Idempotency-Key is missing");
const INVALID = problem(400, "ERR_IDEMPOTENCY_KEY_INVALID", "Idempotency-Key is not a valid key");
const REUSED = problem(
  422,
  "ERR_IDEMPOTENCY_KEY_REUSED",
  "Idempotency-Key was already used with another request",
);
const TOO_LARGE = problem(413, "ERR_IDEMPOTENCY_BODY_TOO_LARGE", "Request body is too large");
const UNAVAILABLE = problem(503, "ERR_STORE_UNAVAILABLE", "Idempotency store unavailable", [
  ["retry-after", "5"],
]);
const NO_BODY = problem(
  500,
  "ERR_IDEMPOTENCY_BODY_UNAVAILABLE",
  "Request body is unavailable for idempotency",
);
const BAD_SCOPE = problem(500, "ERR_IDEMPOTENCY_SCOPE_INVALID", "Idempotency scope could not be determined");

function inFlight(retryAfterMs: number): Outcome {
  return problem(
    409,
    "ERR_IDEMPOTENCY_IN_FLIGHT",
    "A request with this Idempotency-Key is still being processed",
    [["retry-after", String(Math.max(1, Math.ceil(retryAfterMs / 1000)))]],
  );
}

function replay(response: StoredResponse): Outcome {
  return {
    action: "respond",
    status: response.status,
    headers: [...response.headers, ["idempotent-replayed", "true"]],
    body: response.body,
  };
}

function storedHeaders(headers: HeaderList): HeaderList {
  return headers
    .map(([name, value]) => [name.toLowerCase(), value] as const)
    .filter(([name]) => !UNSTORED_HEADERS.has(name));
}

async function hex(parts: ReadonlyArray<string | Uint8Array>): Promise<string> {
  return toHex(await backend.sha256(parts));
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/**
 * The `Idempotency-Key` guard (draft-ietf-httpapi-idempotency-key-header-07). For the configured
 * methods: a missing key → 400 when required; the request fingerprint is SHA-256 over method,
 * target and body. First use → the request continues and its response is stored when it finishes;
 * same key while in flight → 409; same key with another fingerprint → 422; same key completed →
 * the stored status, headers and body again with `Idempotent-Replayed: true`. 5xx, 408, 425 and 429
 * responses are not stored: the key is released so the client can retry.
 */
export function idempotency(options: IdempotencyOptions): Guard {
  const o = checkKeys(WHERE, options, [
    "store",
    "scope",
    "required",
    "ttlMs",
    "lockMs",
    "methods",
    "maxBytes",
    "logger",
  ]);
  const store = o.store as IdempotencyStore;
  if (store === null || typeof store !== "object" || typeof store.begin !== "function") {
    throw configError(WHERE, `"store" must be an IdempotencyStore, got ${describe(store)}`);
  }
  if (typeof o.scope !== "function") {
    throw configError(
      WHERE,
      `"scope" is required: a function returning the user or tenant id that owns the key, got ${describe(o.scope)}`,
    );
  }
  const scope = o.scope as IdempotencyOptions["scope"];
  const required = boolean(WHERE, "required", o.required, false);
  const ttlMs = integer(WHERE, "ttlMs", o.ttlMs, 24 * HOUR_MS, { min: 1000, max: 30 * 24 * HOUR_MS });
  const lockMs = integer(WHERE, "lockMs", o.lockMs, 60_000, { min: 100, max: ttlMs });
  const maxBytes = integer(WHERE, "maxBytes", o.maxBytes, 1024 * 1024, { min: 1, max: 64 * 1024 * 1024 });
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;
  const methodList = o.methods ?? ["POST", "PATCH"];
  if (
    !Array.isArray(methodList) ||
    methodList.length === 0 ||
    !methodList.every((m) => typeof m === "string" && /^[A-Za-z]+$/.test(m))
  ) {
    throw configError(WHERE, `"methods" must be a non-empty array of HTTP method names`);
  }
  const methods = new Set(methodList.map((m: string) => m.toUpperCase()));
  for (const safe of ["GET", "HEAD", "OPTIONS"]) {
    if (methods.has(safe))
      throw configError(WHERE, `"methods" must not include ${safe}: it is already idempotent`);
  }

  return async (view: RequestView): Promise<Outcome> => {
    if (!methods.has(view.method)) return CONTINUE;
    const header = view.header("idempotency-key");
    if (header === undefined) return required ? MISSING : CONTINUE;
    const key = parseIdempotencyKey(header);
    if (key === undefined) return INVALID;

    let owner: string;
    try {
      owner = await scope(view);
    } catch (error) {
      logger.error(
        { code: "ERR_IDEMPOTENCY_SCOPE_INVALID", error: errorName(error) },
        "idempotency scope threw",
      );
      return BAD_SCOPE;
    }
    if (typeof owner !== "string" || owner.length === 0) {
      logger.error({ code: "ERR_IDEMPOTENCY_SCOPE_INVALID" }, "idempotency scope returned no owner");
      return BAD_SCOPE;
    }
    if (view.rawBody === undefined) {
      logger.error({ code: "ERR_IDEMPOTENCY_BODY_UNAVAILABLE" }, "adapter supplied no raw body");
      return NO_BODY;
    }
    let body: Uint8Array;
    try {
      body = await view.rawBody(maxBytes);
    } catch (error) {
      if (isBulwarkError(error) && error.status === 413) return TOO_LARGE;
      throw error;
    }
    if (body.length > maxBytes) return TOO_LARGE;

    const storeKey = await hex([owner, "\u0000", key]);
    const fingerprint = await hex([view.method, "\n", view.url, "\n", body]);
    const token = globalThis.crypto.randomUUID();
    let begun: Awaited<ReturnType<IdempotencyStore["begin"]>>;
    try {
      begun = await store.begin(storeKey, fingerprint, token, lockMs);
    } catch (error) {
      logger.error(
        { code: "ERR_STORE_UNAVAILABLE", store: store.kind, error: errorName(error) },
        "idempotency store failed",
      );
      return UNAVAILABLE;
    }
    if (begun.state !== "acquired") {
      if (!timingSafeEqual(begun.fingerprint, fingerprint)) return REUSED;
      return begun.state === "in_flight" ? inFlight(begun.retryAfterMs) : replay(begun.response);
    }
    return {
      action: "continue",
      locals: { idempotencyKey: key },
      onResponse: async (response: CapturedResponse) => {
        try {
          if (isStorable(response.status)) {
            const stored: StoredResponse = {
              status: response.status,
              headers: storedHeaders(response.headers),
              body: response.body,
            };
            if (!(await store.complete(storeKey, token, stored, ttlMs))) {
              logger.warn(
                { code: "ERR_IDEMPOTENCY_LOCK_EXPIRED", store: store.kind, lockMs },
                "a request outlived its idempotency lock; its response was not stored",
              );
            }
          } else {
            await store.release(storeKey, token);
          }
        } catch (error) {
          logger.error(
            { code: "ERR_STORE_UNAVAILABLE", store: store.kind, error: errorName(error) },
            "could not store an idempotent response; the key frees up when its lock expires",
          );
        }
      },
    };
  };
}
