import { BulwarkError, isBulwarkError } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, describe } from "../core/options.js";
import {
  type CapturedResponse,
  CONTINUE,
  type ContinueOutcome,
  type Guard,
  type HeaderList,
  type Outcome,
  type RespondOutcome,
} from "../core/outcome.js";
import { problem } from "../core/problem.js";
import type { RequestView } from "../core/request.js";

/**
 * The machinery every adapter shares: options, the guard runner, the answers for failures, header
 * merging and the per-request locals. Framework-free; each adapter supplies an `AdapterView` subclass
 * that knows how to read its request and where to put continue outcomes.
 */

/**
 * Values guards hand to the application (CSP nonce, CSRF token, request id), merged into one object per
 * request; each capability documents its keys.
 */
export interface BulwarkLocals {
  readonly [key: string]: unknown;
}

/** Options accepted as the first argument of `protect(...)` / `withGuards(...)` / `middleware(...)`. */
export interface ProtectOptions {
  /**
   * Where guard failures are logged (pino-compatible). Default: Fastify's `request.log` in the Fastify
   * adapter, a JSON-lines logger on stderr elsewhere.
   */
  logger?: Logger;
  /** Called with any error a guard threw (a bug, not a rejection), e.g. to report it. Default: none. */
  onError?: (error: unknown, request: RequestView) => void;
}

export type GuardsOrOptions = [ProtectOptions, ...Guard[]] | Guard[];

/** Guards and options resolved once, at construction. */
export interface Chain {
  readonly guards: readonly Guard[];
  readonly logger: Logger | undefined;
  readonly onError: ((error: unknown, request: RequestView) => void) | undefined;
}

const OPTION_KEYS = ["logger", "onError"] as const;

/** Validates `protect(...)` arguments: an optional options object, then at least one guard. */
export function resolveChain(where: string, args: ReadonlyArray<Guard | ProtectOptions>): Chain {
  let options: ProtectOptions = {};
  let start = 0;
  const first = args[0];
  if (first !== undefined && typeof first !== "function") {
    options = checkKeys(where, first, OPTION_KEYS) as ProtectOptions;
    start = 1;
  }
  const guards: Guard[] = [];
  for (let i = start; i < args.length; i++) {
    const guard = args[i];
    if (typeof guard !== "function") {
      throw configError(where, `guard ${i - start + 1} must be a function, got ${describe(guard)}`);
    }
    guards.push(guard);
  }
  if (guards.length === 0) throw configError(where, "expected at least one guard");
  const logger = options.logger;
  if (logger !== undefined) {
    for (const level of ["debug", "info", "warn", "error"] as const) {
      if (typeof (logger as unknown as Record<string, unknown>)[level] !== "function") {
        throw configError(where, `"logger" must have a ${level}() method`);
      }
    }
  }
  if (options.onError !== undefined && typeof options.onError !== "function") {
    throw configError(where, `"onError" must be a function, got ${describe(options.onError)}`);
  }
  return Object.freeze({ guards: Object.freeze(guards), logger, onError: options.onError });
}

/** The empty locals object; shared and frozen so a request without locals allocates nothing. */
export const EMPTY_LOCALS: BulwarkLocals = Object.freeze({});

/** Merges `add` into the request's locals, allocating the object on first use. */
export function mergeLocals(
  current: BulwarkLocals | null | undefined,
  add: Readonly<Record<string, unknown>>,
): BulwarkLocals {
  if (current === undefined || current === null || current === EMPTY_LOCALS) return { ...add };
  return Object.assign(current as Record<string, unknown>, add);
}

/** The body of a request that has none (zero length, so sharing it is safe). */
export const EMPTY_BODY: Uint8Array = new Uint8Array(0);

// ---------------------------------------------------------------------------------------------------
// Failures

/** 413: the body exceeded the limit a guard asked for. The connection is closed after answering. */
export const BODY_TOO_LARGE: RespondOutcome = problem(413, "ERR_BODY_TOO_LARGE", "Content Too Large", [
  ["connection", "close"],
]);
/** 400: the client stopped before the body was complete. */
export const BODY_INCOMPLETE: RespondOutcome = problem(
  400,
  "ERR_BODY_INCOMPLETE",
  "Incomplete Request Body",
  [["connection", "close"]],
);
/** 500: a guard (or the handler, in the node:http and Next.js adapters) failed; nothing else is said. */
export const INTERNAL: RespondOutcome = problem(500, "ERR_INTERNAL", "Internal Server Error");

/** The error `rawBody` rejects with when the body is over `maxBytes`. */
export function tooLarge(maxBytes: number): BulwarkError {
  return new BulwarkError("ERR_BODY_TOO_LARGE", "request body exceeds maxBytes", {
    status: 413,
    details: { maxBytes },
  });
}

/** The error `rawBody` rejects with when the client stopped mid-body. */
export function incomplete(cause?: unknown): BulwarkError {
  return new BulwarkError("ERR_BODY_INCOMPLETE", "request body ended before it was complete", {
    status: 400,
    cause,
  });
}

/** The error `rawBody` rejects with when another middleware consumed the body without keeping it. */
export function unavailable(): BulwarkError {
  return new BulwarkError(
    "ERR_BODY_UNAVAILABLE",
    "the request body was consumed before a guard asked for it; mount bulwark before body parsers",
    { status: 500 },
  );
}

/** A plain, loggable description of an error (consoleLogger would print an Error as `{}`). */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const out: Record<string, unknown> = { name: error.name, message: error.message, stack: error.stack };
    if (isBulwarkError(error)) out.code = error.code;
    return out;
  }
  return { name: typeof error, message: String(error) };
}

// ---------------------------------------------------------------------------------------------------
// The per-request view and the guard runner

/**
 * The base of every adapter's per-request object: it is the RequestView guards read, and it carries the
 * state of the chain (raw-body cache, a sticky body failure). One allocation per request.
 */
export abstract class AdapterView implements RequestView {
  readonly chain: Chain;
  /** Set when reading the body failed in a way that left the stream unusable; answered at the end. */
  bodyFailure: BulwarkError | undefined = undefined;
  #body: Promise<Uint8Array> | undefined = undefined;

  constructor(chain: Chain) {
    this.chain = chain;
  }

  abstract get method(): string;
  abstract get url(): string;
  abstract header(name: string): string | undefined;
  abstract get remoteAddress(): string | undefined;
  abstract get protocol(): "http" | "https";

  get path(): string {
    const url = this.url;
    const q = url.indexOf("?");
    return q === -1 ? url : url.slice(0, q);
  }

  /** Reads the raw body once (the first call's `maxBytes` bounds the read); later calls reuse it. */
  rawBody(maxBytes: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      return Promise.reject(configError("rawBody", `"maxBytes" must be an integer ≥ 0, got ${maxBytes}`));
    }
    if (this.#body === undefined) {
      this.#body = this.readBody(maxBytes).then(undefined, (error: unknown) => {
        if (isBulwarkError(error) && error.status < 500) this.bodyFailure = error;
        throw error;
      });
      return this.#body;
    }
    return this.#body.then((bytes) =>
      bytes.byteLength > maxBytes ? Promise.reject(tooLarge(maxBytes)) : bytes,
    );
  }

  /** Reads the body from the framework, enforcing `maxBytes`, and keeps it for the application. */
  protected abstract readBody(maxBytes: number): Promise<Uint8Array>;

  /** Applies a continue outcome (headers, removals, locals, response hooks). */
  abstract proceed(outcome: ContinueOutcome): void;

  /** The logger for this request. */
  logger(): Logger {
    return this.chain.logger ?? consoleLogger;
  }

  /** Logs a failure and returns the answer for it. */
  fail(error: unknown): RespondOutcome {
    if (isBulwarkError(error, "ERR_BODY_TOO_LARGE")) return BODY_TOO_LARGE;
    if (isBulwarkError(error, "ERR_BODY_INCOMPLETE")) return BODY_INCOMPLETE;
    this.reportInternal(error, "a guard failed");
    return INTERNAL;
  }

  /**
   * Logs an unexpected error (never sent to the client) and tells `onError`. The request target is left
   * out: paths and queries can carry tokens; the application's request log has them, redacted.
   */
  reportInternal(error: unknown, msg: string): void {
    try {
      this.logger().error(
        { code: "ERR_INTERNAL", method: this.method, error: describeError(error) },
        `bulwark: ${msg}`,
      );
      this.chain.onError?.(error, this);
    } catch {
      // A failing logger or onError hook must not take the request down with it.
    }
  }
}

/** `undefined`: run the application; a RespondOutcome: answer with it. */
export type Verdict = RespondOutcome | undefined;

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function invalidOutcome(outcome: unknown): TypeError {
  return new TypeError(`a guard returned ${describe(outcome)} instead of an Outcome`);
}

/**
 * Runs the chain's guards in order from `from`. Continue outcomes are applied as they arrive; the first
 * respond outcome ends the chain. Synchronous guards never allocate a promise. Never rejects: a guard
 * that throws becomes a failure answer.
 */
export function runChain(view: AdapterView, from = 0): Verdict | Promise<Verdict> {
  const guards = view.chain.guards;
  for (let i = from; i < guards.length; i++) {
    try {
      const outcome = (guards[i] as Guard)(view);
      if (outcome === CONTINUE) continue;
      if (isThenable<Outcome>(outcome)) {
        const next = i + 1;
        return Promise.resolve(outcome).then(
          (settled) => settle(view, settled, next),
          (error: unknown) => view.fail(error),
        );
      }
      if (outcome.action === "continue") view.proceed(outcome);
      else if (outcome.action === "respond") return outcome;
      else throw invalidOutcome(outcome);
    } catch (error) {
      return view.fail(error);
    }
  }
  return view.bodyFailure === undefined ? undefined : view.fail(view.bodyFailure);
}

function settle(view: AdapterView, outcome: Outcome, next: number): Verdict | Promise<Verdict> {
  try {
    if (outcome === CONTINUE) return runChain(view, next);
    if (outcome?.action === "continue") view.proceed(outcome);
    else if (outcome?.action === "respond") return outcome;
    else throw invalidOutcome(outcome);
  } catch (error) {
    return view.fail(error);
  }
  return runChain(view, next);
}

export function isPending(verdict: Verdict | Promise<Verdict>): verdict is Promise<Verdict> {
  return verdict !== undefined && typeof (verdict as { then?: unknown }).then === "function";
}

// ---------------------------------------------------------------------------------------------------
// Headers

/** How to set and append a header on some response-like target. */
export interface HeaderOps<T> {
  set(target: T, name: string, value: string): void;
  append(target: T, name: string, value: string): void;
}

/** Whether `name` occurs in `list` before `index`. */
export function seenBefore(list: HeaderList, index: number, name: string): boolean {
  for (let j = 0; j < index; j++) if ((list[j] as readonly [string, string])[0] === name) return true;
  return false;
}

/** Whether an entry of a header list adds a value instead of replacing: see {@link applyHeaders}. */
export function appends(list: HeaderList, index: number, name: string): boolean {
  return name === "set-cookie" || name === "vary" || (index > 0 && seenBefore(list, index, name));
}

/**
 * A frozen header list taken apart once: V8 reads frozen arrays through a slow path, and a frozen
 * list of frozen entries is a guard's constant (the same object on every request), so the work is
 * done on first use.
 */
export interface HeaderPlan {
  readonly names: readonly string[];
  readonly values: readonly string[];
  readonly appends: readonly boolean[];
}

/** Cached per frozen list: its plan, or `null` when an entry is not frozen and may still change. */
const PLANS = new WeakMap<HeaderList, HeaderPlan | null>();

/**
 * The plan of a frozen list whose entries are frozen too (cached by identity); `undefined` for any
 * list that may still change, which is read afresh.
 */
export function headerPlan(list: HeaderList): HeaderPlan | undefined {
  if (!Object.isFrozen(list)) return undefined;
  let plan = PLANS.get(list);
  if (plan === undefined) {
    plan = compilePlan(list);
    PLANS.set(list, plan);
  }
  return plan ?? undefined;
}

function compilePlan(list: HeaderList): HeaderPlan | null {
  const names: string[] = [];
  const values: string[] = [];
  const adds: boolean[] = [];
  for (let i = 0; i < list.length; i++) {
    const entry = list[i] as readonly [string, string];
    if (!Object.isFrozen(entry)) return null;
    names.push(entry[0]);
    values.push(entry[1]);
    adds.push(appends(list, i, entry[0]));
  }
  return { names, values, appends: adds };
}

/**
 * Applies a header list: a name replaces an earlier value, except `set-cookie` and `vary`, which
 * accumulate, and a name repeated within one list, whose values all stay (separate header lines).
 */
export function applyHeaders<T>(ops: HeaderOps<T>, target: T, list: HeaderList): void {
  const plan = headerPlan(list);
  if (plan !== undefined) {
    const { names, values, appends: adds } = plan;
    for (let i = 0; i < names.length; i++) {
      if (adds[i]) ops.append(target, names[i] as string, values[i] as string);
      else ops.set(target, names[i] as string, values[i] as string);
    }
    return;
  }
  for (let i = 0; i < list.length; i++) {
    const entry = list[i] as readonly [string, string];
    const name = entry[0];
    if (appends(list, i, name)) ops.append(target, name, entry[1]);
    else ops.set(target, name, entry[1]);
  }
}

/** Header operations on a WHATWG `Headers`. */
export const WEB_HEADERS: HeaderOps<Headers> = {
  set: (headers, name, value) => headers.set(name, value),
  append: (headers, name, value) => headers.append(name, value),
};

/** Calls every response hook once, in order; a hook that throws or rejects is logged, never rethrown. */
export function deliver(
  hooks: ReadonlyArray<NonNullable<ContinueOutcome["onResponse"]>>,
  response: CapturedResponse,
  logger: Logger,
): void {
  const report = (error: unknown) => {
    try {
      logger.error(
        { code: "ERR_INTERNAL", error: describeError(error) },
        "bulwark: an onResponse hook failed",
      );
    } catch {
      // ignore a failing logger
    }
  };
  for (const hook of hooks) {
    try {
      const result = hook(response);
      if (isThenable(result)) Promise.resolve(result).then(undefined, report);
    } catch (error) {
      report(error);
    }
  }
}

/** Statuses whose responses never carry a body. */
export function isBodilessStatus(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}
