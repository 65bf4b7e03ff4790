import { isBulwarkError } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, fn, integer, string } from "../core/options.js";
import type { RespondOutcome } from "../core/outcome.js";

/**
 * The shape of every flow that takes an email address (forgot password, resend verification, magic
 * link, registration of an address that may exist): answer at once with one fixed response, and do
 * the account-dependent work (lookup, token, email) after the answer has left, off the request's
 * timing. Status, headers, body and timing are then the same whether or not the account exists.
 * Errors of the background work are logged, never answered. Put a per-IP limit in front (the
 * rate-limit module's `rateLimit`), so the background queue cannot be flooded.
 */

export interface EnumerationSafeOptions<I> {
  /** The account-dependent work: look the account up and, if it exists, issue and send. */
  work: (input: I) => Promise<void>;
  /** Status of the one answer (default 202). */
  status?: number;
  /** Message of the one answer (default: "If an account exists for this address, we have sent an email."). */
  message?: string;
  /** Background jobs allowed at once; beyond it new jobs are dropped and logged (default 100). */
  maxPending?: number;
  /** Where background failures and drops are logged (default: consoleLogger). Never the input. */
  logger?: Logger;
}

export interface EnumerationSafeFlow<I> {
  /** Schedules the work and returns the fixed answer immediately. */
  (input: I): RespondOutcome;
  /** Resolves when no background job is pending (tests, graceful shutdown). */
  idle(): Promise<void>;
  /** Jobs running now. */
  readonly pending: number;
}

const DEFAULT_MESSAGE = "If an account exists for this address, we have sent an email.";

/** Wraps account-dependent work into a flow whose answer never depends on the account. */
export function enumerationSafe<I>(options: EnumerationSafeOptions<I>): EnumerationSafeFlow<I> {
  const where = "enumerationSafe";
  const o = checkKeys(where, options, ["work", "status", "message", "maxPending", "logger"]);
  const work = fn<(input: I) => Promise<void>>(where, "work", o.work, undefined);
  if (work === undefined) throw configError(where, `"work" is required`);
  const status = integer(where, "status", o.status, 202, { min: 200, max: 299 });
  const message = string(where, "message", o.message, DEFAULT_MESSAGE);
  const maxPending = integer(where, "maxPending", o.maxPending, 100, { min: 1, max: 100_000 });
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;

  const answer: RespondOutcome = Object.freeze({
    action: "respond",
    status,
    headers: Object.freeze([
      ["content-type", "application/json"],
      ["cache-control", "no-store"],
    ] as const),
    body: JSON.stringify({ message }),
  });

  let pending = 0;
  let waiters: Array<() => void> = [];
  const settle = () => {
    pending--;
    if (pending === 0) {
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve();
    }
  };

  const flow = ((input: I): RespondOutcome => {
    if (pending >= maxPending) {
      logger.warn(
        { code: "ERR_AUTH_BACKGROUND_DROPPED", maxPending },
        "enumerationSafe: background queue full; job dropped",
      );
      return answer;
    }
    pending++;
    // setImmediate: the job starts after the current I/O turn, i.e. after the answer is written.
    setImmediate(() => {
      Promise.resolve()
        .then(() => work(input))
        .catch((error: unknown) => {
          logger.error(
            { code: isBulwarkError(error) ? error.code : "ERR_AUTH_BACKGROUND_FAILED" },
            "enumerationSafe: background work failed",
          );
        })
        .finally(settle);
    });
    return answer;
  }) as EnumerationSafeFlow<I>;

  Object.defineProperty(flow, "pending", { get: () => pending });
  flow.idle = () =>
    pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve));
  return flow;
}
