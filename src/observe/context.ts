import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { type Clock, systemClock } from "../core/clock.js";
import { boolean, checkKeys, configError, fn, integer } from "../core/options.js";
import type { ContinueOutcome, Guard } from "../core/outcome.js";
import type { RequestView } from "../core/request.js";

/** A parsed W3C `traceparent` header (https://www.w3.org/TR/trace-context/#traceparent-header). */
export interface TraceParent {
  /** Two lower-case hex digits; `00` today. */
  readonly version: string;
  /** 32 lower-case hex digits, never all zeros. */
  readonly traceId: string;
  /** 16 lower-case hex digits (the caller's span id), never all zeros. */
  readonly parentId: string;
  /** Two lower-case hex digits; bit 0 is "sampled". */
  readonly flags: string;
}

/** What bulwark knows about the request being served, readable anywhere in its async flow. */
export interface RequestContext {
  /** The correlation id: the incoming `X-Request-Id`, else the trace id of `traceparent`, else generated. */
  readonly requestId: string;
  /** Where `requestId` came from. */
  readonly source: "header" | "traceparent" | "generated";
  /** The incoming trace context, when a valid `traceparent` arrived. */
  readonly trace: TraceParent | undefined;
  /** `clock.now()` when the context was created, in milliseconds. */
  readonly startMs: number;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The context of the request being served, or `undefined` outside any request. */
export function requestContext(): RequestContext | undefined {
  return storage.getStore();
}

/** The id of the request being served, or `undefined` outside any request. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

const HEX_LC = /^[0-9a-f]+$/;
const ALL_ZEROS = /^0+$/;

/**
 * Parses a `traceparent` header value per W3C Trace Context level 1: optional surrounding spaces and
 * tabs; `version-traceid-parentid-flags` in lower-case hex; version `ff` is invalid; trace id and parent
 * id must not be all zeros; version `00` has exactly four fields, a later version may append fields after
 * a `-`. Returns `undefined` for anything else (including two headers joined by a comma).
 */
export function parseTraceparent(value: string | undefined): TraceParent | undefined {
  if (value === undefined) return undefined;
  const v = value.replace(/^[ \t]+|[ \t]+$/g, "");
  if (v.length < 55) return undefined;
  if (v[2] !== "-" || v[35] !== "-" || v[52] !== "-") return undefined;
  const version = v.slice(0, 2);
  const traceId = v.slice(3, 35);
  const parentId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!HEX_LC.test(version) || version === "ff") return undefined;
  if (version === "00" ? v.length !== 55 : v.length > 55 && v[55] !== "-") return undefined;
  if (!HEX_LC.test(traceId) || ALL_ZEROS.test(traceId)) return undefined;
  if (!HEX_LC.test(parentId) || ALL_ZEROS.test(parentId)) return undefined;
  if (!HEX_LC.test(flags)) return undefined;
  return { version, traceId, parentId, flags };
}

/** The characters an incoming request id may use: nothing that can break a log line or a header. */
const REQUEST_ID_CHARS = /^[A-Za-z0-9._:+=/-]+$/;

export interface RequestContextOptions {
  /** Request header to read an incoming id from (lower-case). Default `"x-request-id"`. */
  header?: string;
  /** Response header that echoes the id; `false` to not echo. Default `"x-request-id"`. */
  responseHeader?: string | false;
  /**
   * Accept a valid incoming id (`header`, then `traceparent`). Turn off at the edge of a public service
   * when clients must not choose ids that appear in your logs. Default `true`.
   */
  trustIncoming?: boolean;
  /** Longest incoming id accepted, in characters; longer ones are replaced. Default 128. */
  maxLength?: number;
  /** Use the trace id of a valid W3C `traceparent` when no `header` id arrived. Default `true`. */
  traceparent?: boolean;
  /** Generates a fresh id. Default `crypto.randomUUID`. */
  generateId?: () => string;
  /**
   * How the guard makes the context visible to the handler: `"enterWith"` calls
   * `AsyncLocalStorage.enterWith` inside the guard, so everything the adapter runs after the guard (the
   * rest of the middleware chain and the handler) sees it; `"none"` only computes the context and puts it
   * in `locals.requestContext` (wrap the handler yourself with `run`). Default `"enterWith"`.
   */
  enter?: "enterWith" | "none";
  /** Clock for `startMs`. Default the system clock. */
  clock?: Clock;
}

/** A Guard that establishes the request context, plus helpers sharing its options. */
export interface RequestContextGuard extends Guard {
  /** Builds the context for `view` without entering it. */
  create(view: RequestView): RequestContext;
  /** Runs `fn` inside the context built for `view` (or the given context); returns what `fn` returns. */
  run<T>(view: RequestView | RequestContext, fn: (context: RequestContext) => T): T;
}

const KNOWN = [
  "header",
  "responseHeader",
  "trustIncoming",
  "maxLength",
  "traceparent",
  "generateId",
  "enter",
  "clock",
] as const;

function headerName(where: string, key: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !/^[a-z0-9-]+$/.test(value)) {
    throw configError(where, `"${key}" must be a lower-case header name`);
  }
  return value;
}

/**
 * Creates the request-context Guard: takes the request id from a valid incoming `X-Request-Id`
 * (strict charset `A-Z a-z 0-9 . _ : + = / -`, at most `maxLength`) or a valid W3C `traceparent`,
 * otherwise generates one; echoes it on the response; returns it from `requestContext()` anywhere in
 * the request's async flow; puts it in `locals.requestId` and `locals.requestContext`.
 */
export function requestContextGuard(options: RequestContextOptions = {}): RequestContextGuard {
  const where = "requestContextGuard";
  const o = checkKeys(where, options, KNOWN);
  const header = headerName(where, "header", o.header, "x-request-id");
  const responseHeader =
    o.responseHeader === false
      ? false
      : headerName(where, "responseHeader", o.responseHeader, "x-request-id");
  const trustIncoming = boolean(where, "trustIncoming", o.trustIncoming, true);
  const maxLength = integer(where, "maxLength", o.maxLength, 128, { min: 1, max: 1024 });
  const useTraceparent = boolean(where, "traceparent", o.traceparent, true);
  const generateId = fn<() => string>(where, "generateId", o.generateId, randomUUID) as () => string;
  const enter = o.enter ?? "enterWith";
  if (enter !== "enterWith" && enter !== "none") {
    throw configError(where, `"enter" must be "enterWith" or "none"`);
  }
  const clock = (o.clock as Clock | undefined) ?? systemClock;
  if (typeof clock.now !== "function") throw configError(where, `"clock" must have a now() method`);

  const create = (view: RequestView): RequestContext => {
    const startMs = clock.now();
    if (trustIncoming) {
      const incoming = view.header(header);
      const trace = useTraceparent ? parseTraceparent(view.header("traceparent")) : undefined;
      if (incoming !== undefined && incoming.length <= maxLength && REQUEST_ID_CHARS.test(incoming)) {
        return { requestId: incoming, source: "header", trace, startMs };
      }
      if (trace !== undefined) return { requestId: trace.traceId, source: "traceparent", trace, startMs };
    }
    const id = generateId();
    if (typeof id !== "string" || id.length === 0) {
      throw configError(where, `"generateId" must return a non-empty string`);
    }
    return { requestId: id, source: "generated", trace: undefined, startMs };
  };

  const guard = ((view: RequestView): ContinueOutcome => {
    const context = create(view);
    if (enter === "enterWith") storage.enterWith(context);
    return {
      action: "continue",
      headers: responseHeader === false ? [] : [[responseHeader, context.requestId]],
      locals: { requestId: context.requestId, requestContext: context },
    };
  }) as RequestContextGuard;
  guard.create = create;
  guard.run = (view, body) => {
    const context = "requestId" in view ? view : create(view);
    return storage.run(context, body, context);
  };
  return guard;
}

let defaultGuard: RequestContextGuard | undefined;

/**
 * Runs `fn` inside a request context built from `view` with the default options (or inside the given
 * context). Use it where an adapter or server can wrap the handler:
 * `createServer((req, res) => runWithRequestContext(view, (ctx) => handle(req, res)))`.
 */
export function runWithRequestContext<T>(
  view: RequestView | RequestContext,
  callback: (context: RequestContext) => T,
): T {
  defaultGuard ??= requestContextGuard();
  return defaultGuard.run(view, callback);
}
