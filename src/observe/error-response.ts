import { STATUS_CODES } from "node:http";
import { BulwarkError, ERROR_CODES } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { boolean, checkKeys, configError, fn, oneOf } from "../core/options.js";
import type { RespondOutcome } from "../core/outcome.js";
import { problem } from "../core/problem.js";
import { currentRequestId } from "./context.js";
import { createLogger } from "./logger.js";
import { createRedactor } from "./redact.js";

/** What the `onError` hook learns about an error besides the error itself. */
export interface ErrorInfo {
  /** The request id, when the error happened while serving a request. */
  readonly requestId: string | undefined;
  /** The status the client receives. */
  readonly status: number;
  /** The code the client receives. */
  readonly code: string;
}

export interface ErrorHandlerOptions {
  /**
   * Hide the internal message and stack from the client. Default `process.env.NODE_ENV === "production"`,
   * read once when the handler is created.
   */
  production?: boolean;
  /**
   * Called with every reported error (Sentry-style `captureException(error, { tags })`). It may be async;
   * whatever it throws or rejects with is logged and never reaches the client. Default none.
   */
  onError?: (error: unknown, info: ErrorInfo) => void | Promise<void>;
  /** Which errors reach `onError`: `"server"` (5xx only) or `"all"`. Default `"server"`. */
  report?: "server" | "all";
  /** Where errors are logged (5xx at error level with the error, 4xx at info with its message). Default a `createLogger()` instance. */
  logger?: Logger;
}

/** Turns any thrown value into the response to send. */
export type ErrorHandler = (error: unknown, requestId?: string) => RespondOutcome;

const KNOWN = ["production", "onError", "report", "logger"] as const;

/** Codes for 4xx errors raised by frameworks and their body parsers (http-errors, Fastify). */
const CLIENT_CODES: Readonly<Record<number, string>> = {
  405: "ERR_METHOD_NOT_ALLOWED",
  413: "ERR_BODY_TOO_LARGE",
  415: "ERR_BODY_UNSUPPORTED_MEDIA_TYPE",
};

function clientStatus(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { status?: unknown; statusCode?: unknown };
  const status = typeof e.status === "number" ? e.status : e.statusCode;
  return typeof status === "number" && Number.isInteger(status) && status >= 400 && status <= 499
    ? status
    : undefined;
}

/** A fixed title: the code's documented meaning for a BulwarkError, else the HTTP reason phrase. */
function title(code: string, status: number, ownCode: boolean): string {
  const known = ownCode ? (ERROR_CODES as Readonly<Record<string, string>>)[code] : undefined;
  return known ?? STATUS_CODES[status] ?? "Error";
}

let defaultLogger: Logger | undefined;
const messageRedactor = createRedactor();

/**
 * Creates the error handler every adapter (and the application) calls with whatever a handler threw:
 * a BulwarkError with a 4xx status keeps its status and code; a framework 4xx (`status`/`statusCode`,
 * e.g. a body-parser error) keeps its status under a generic code; anything else becomes
 * 500 `ERR_INTERNAL`. The body is `application/problem+json` with the request id; outside production it
 * also carries the (redacted) message and stack, in production never.
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorHandler {
  const where = "errorHandler";
  const o = checkKeys(where, options, KNOWN);
  const production = boolean(where, "production", o.production, process.env.NODE_ENV === "production");
  const onError = fn<NonNullable<ErrorHandlerOptions["onError"]>>(where, "onError", o.onError, undefined);
  const report = oneOf(where, "report", o.report, ["server", "all"] as const, "server");
  const logger = o.logger as Logger | undefined;
  if (logger !== undefined && (typeof logger !== "object" || typeof logger.error !== "function")) {
    throw configError(where, `"logger" must have debug/info/warn/error methods`);
  }
  const log = (): Logger => {
    if (logger !== undefined) return logger;
    defaultLogger ??= createLogger();
    return defaultLogger;
  };

  const callHook = (error: unknown, info: ErrorInfo) => {
    if (onError === undefined) return;
    const failed = (hookError: unknown) =>
      log().error({ err: hookError, requestId: info.requestId }, "onError hook failed");
    try {
      const result = onError(error, info);
      if (result instanceof Promise) result.catch(failed);
    } catch (hookError) {
      failed(hookError);
    }
  };

  return (error, requestId = currentRequestId()) => {
    let status = 500;
    let code = "ERR_INTERNAL";
    let ownCode = false;
    if (error instanceof BulwarkError && error.status >= 400 && error.status <= 499) {
      status = error.status;
      code = error.code;
      ownCode = true;
    } else {
      const client = clientStatus(error);
      if (client !== undefined) {
        status = client;
        code = CLIENT_CODES[client] ?? "ERR_CLIENT_REQUEST";
      }
    }
    const info: ErrorInfo = { requestId, status, code };
    if (status >= 500) log().error({ err: error, requestId, status, code }, "request failed");
    else {
      const message = error instanceof Error ? error.message : undefined;
      log().info(
        { requestId, status, code, ...(message === undefined ? {} : { message }) },
        "request rejected",
      );
    }
    if (status >= 500 || report === "all") callHook(error, info);

    const extra: Record<string, string | number> = {};
    if (requestId !== undefined) extra.requestId = requestId;
    if (!production && error instanceof Error) {
      extra.detail = messageRedactor.scrubString(error.message);
      if (typeof error.stack === "string") extra.stack = messageRedactor.scrubString(error.stack);
    }
    return problem(
      status,
      code,
      title(code, status, ownCode),
      requestId === undefined ? [] : [["x-request-id", requestId]],
      extra,
    );
  };
}

let defaultHandler: { production: boolean; handle: ErrorHandler } | undefined;

/**
 * One-shot form of `errorHandler`: the response for `error` (500 `application/problem+json` with the
 * request id, no stack or internal message when `production`). Prefer `errorHandler(options)` once at
 * start when you pass a logger or an `onError` hook.
 */
export function errorResponse(
  error: unknown,
  options: { production?: boolean; logger?: Logger } = {},
): RespondOutcome {
  if (options.logger !== undefined) return errorHandler(options)(error);
  const production = options.production ?? process.env.NODE_ENV === "production";
  if (defaultHandler?.production !== production) {
    defaultHandler = { production, handle: errorHandler({ production }) };
  }
  return defaultHandler.handle(error);
}
