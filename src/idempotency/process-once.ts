import { BulwarkError } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, describe, integer } from "../core/options.js";
import type { ProcessLedger } from "./types.js";

export interface ProcessOnceOptions {
  /** Where event states live (memory, Redis, Postgres/PGlite). Required. */
  ledger: ProcessLedger;
  /**
   * How long one attempt owns the event. A worker that crashes keeps it this long, then another
   * delivery takes over; a handler that runs longer should call `extendLease`. Default: 60 000 ms.
   */
  leaseMs?: number;
  /** Where lost leases and ledger failures are logged. Default: console. */
  logger?: Logger;
}

/** Handed to the handler of the attempt that owns the event. */
export interface ProcessContext {
  readonly eventId: string;
  /** 1 for the first attempt, 2 for the first retry, … */
  readonly attempt: number;
  /** Extends this attempt's lease to `leaseMs` (default: the configured lease) from now. */
  extendLease(leaseMs?: number): Promise<boolean>;
}

export type ProcessOnceResult<T> =
  /** This call ran the handler and stored its result. */
  | { readonly status: "processed"; readonly result: T; readonly attempt: number }
  /** The event was already done; `result` is the stored result (as JSON round-tripped it). */
  | { readonly status: "duplicate"; readonly result: T; readonly attempts: number }
  /** Another attempt holds the lease; try again after `retryAfterMs`. */
  | { readonly status: "in_progress"; readonly retryAfterMs: number }
  /** The handler threw; the event is marked failed and the next delivery retries it. */
  | { readonly status: "failed"; readonly error: unknown; readonly attempt: number }
  /** The handler finished after its lease expired and another attempt took the event over. */
  | { readonly status: "lease_lost"; readonly result: T; readonly attempt: number };

const EVENT_ID_MAX = 512;

function errorLabel(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const label = typeof code === "string" ? code : error instanceof Error ? error.name : typeof error;
  return label.slice(0, 100);
}

function storeError(error: unknown, kind: string): BulwarkError {
  return new BulwarkError("ERR_STORE_UNAVAILABLE", `processOnce: the ${kind} ledger failed`, {
    status: 503,
    cause: error,
  });
}

/**
 * Runs `handler` for `eventId` at most once to completion across every process sharing `ledger`.
 * Concurrent deliveries of one event: one runs, the others get "in_progress"; later deliveries get
 * "duplicate" with the stored result. A throwing handler marks the event failed and the next
 * delivery retries it; a crashed worker's event is taken over once its lease expires.
 * Throws `ERR_STORE_UNAVAILABLE` only when the ledger itself cannot answer.
 */
export async function processOnce<T>(
  eventId: string,
  handler: (context: ProcessContext) => T | Promise<T>,
  options: ProcessOnceOptions,
): Promise<ProcessOnceResult<T>> {
  const o = checkKeys("processOnce", options, ["ledger", "leaseMs", "logger"]);
  if (typeof eventId !== "string" || eventId.length === 0 || eventId.length > EVENT_ID_MAX) {
    throw configError(
      "processOnce",
      `"eventId" must be a string of 1–${EVENT_ID_MAX} characters, got ${describe(eventId)}`,
    );
  }
  if (typeof handler !== "function") throw configError("processOnce", `"handler" must be a function`);
  const ledger = o.ledger as ProcessLedger;
  if (ledger === null || typeof ledger !== "object" || typeof ledger.claim !== "function") {
    throw configError("processOnce", `"ledger" must be a ProcessLedger, got ${describe(ledger)}`);
  }
  const leaseMs = integer("processOnce", "leaseMs", o.leaseMs, 60_000, { min: 1, max: 24 * 3600_000 });
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;
  const owner = globalThis.crypto.randomUUID();

  let claim: Awaited<ReturnType<ProcessLedger["claim"]>>;
  try {
    claim = await ledger.claim(eventId, owner, leaseMs);
  } catch (error) {
    throw storeError(error, ledger.kind);
  }
  if (!claim.claimed) {
    const { record } = claim;
    if (record.state === "done") {
      return { status: "duplicate", result: record.result as T, attempts: record.attempts };
    }
    return { status: "in_progress", retryAfterMs: Math.max(1, record.leaseRemainingMs ?? leaseMs) };
  }

  const { attempt } = claim;
  const context: ProcessContext = {
    eventId,
    attempt,
    extendLease: (ms = leaseMs) => ledger.extend(eventId, owner, ms),
  };
  let result: T;
  let resultJson: string;
  try {
    result = await handler(context);
    resultJson = JSON.stringify(result === undefined ? null : result);
  } catch (error) {
    try {
      await ledger.fail(eventId, owner, errorLabel(error));
    } catch (ledgerError) {
      logger.error(
        { code: "ERR_STORE_UNAVAILABLE", ledger: ledger.kind, eventId, error: errorLabel(ledgerError) },
        "processOnce could not mark a failed event; it is retried once its lease expires",
      );
    }
    return { status: "failed", error, attempt };
  }
  let completed: boolean;
  try {
    completed = await ledger.complete(eventId, owner, resultJson);
  } catch (error) {
    throw storeError(error, ledger.kind);
  }
  if (!completed) {
    logger.warn(
      { code: "ERR_IDEMPOTENCY_LEASE_LOST", ledger: ledger.kind, eventId, attempt, leaseMs },
      "processOnce handler outlived its lease; another attempt took the event over",
    );
    return { status: "lease_lost", result, attempt };
  }
  return { status: "processed", result, attempt };
}
