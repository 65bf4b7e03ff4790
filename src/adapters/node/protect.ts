import type { IncomingMessage, ServerResponse } from "node:http";
import { configError, describe } from "../../core/options.js";
import type { ContinueOutcome } from "../../core/outcome.js";
import {
  type BulwarkLocals,
  type Chain,
  EMPTY_LOCALS,
  type GuardsOrOptions,
  INTERNAL,
  isPending,
  mergeLocals,
  resolveChain,
  runChain,
} from "../chain.js";
import { applyContinue, keptRawBody, NodeView, writeOutcome } from "../node-io.js";

/**
 * Where a request's locals live: a symbol-keyed property of the request itself (a WeakMap entry per
 * request costs an ephemeron the garbage collector must trace on every scavenge).
 */
const LOCALS: unique symbol = Symbol("bulwark.locals");
type WithLocals = IncomingMessage & { [LOCALS]?: BulwarkLocals };

/** The locals guards set for this request (CSP nonce, CSRF token, …); an empty object when none did. */
export function bulwarkLocals(req: IncomingMessage): BulwarkLocals {
  return (req as WithLocals)[LOCALS] ?? EMPTY_LOCALS;
}

/**
 * The raw body exactly as received, when a guard read it (the stream is then consumed, so the handler
 * reads the bytes here — also available as `req.rawBody`). `undefined` when no guard read the body.
 */
export function rawBodyOf(req: IncomingMessage): Uint8Array | undefined {
  return keptRawBody(req);
}

/** A node:http request listener. */
export type NodeHandler<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> = (req: Req, res: Res) => unknown;

class NodeHttpView extends NodeView {
  readonly res: ServerResponse;
  readonly handler: NodeHandler<IncomingMessage, ServerResponse>;

  constructor(
    chain: Chain,
    req: IncomingMessage,
    res: ServerResponse,
    handler: NodeHandler<IncomingMessage, ServerResponse>,
  ) {
    super(chain, req);
    this.res = res;
    this.handler = handler;
  }

  proceed(outcome: ContinueOutcome): void {
    applyContinue(this, this.res, outcome);
    if (outcome.locals !== undefined) {
      const req = this.req as WithLocals;
      req[LOCALS] = mergeLocals(req[LOCALS], outcome.locals);
    }
  }
}

function handlerFailed(view: NodeHttpView, error: unknown): void {
  view.reportInternal(error, "the request handler failed");
  writeOutcome(view, view.res, INTERNAL);
}

function invoke(view: NodeHttpView): void {
  try {
    const result = view.handler(view.req, view.res) as { then?: unknown } | undefined;
    if (typeof result?.then === "function") {
      (result as PromiseLike<unknown>).then(undefined, (error: unknown) => handlerFailed(view, error));
    }
  } catch (error) {
    handlerFailed(view, error);
  }
}

/**
 * Guards for a node:http server: `protect(...guards)(handler)` returns a `(req, res)` listener that runs
 * the guards in order before `handler`. The first guard that answers ends the chain; continue outcomes
 * set their headers before the handler runs. A guard or handler that throws answers 500
 * `ERR_INTERNAL` (problem+json, no details) and is logged. An options object may come first.
 */
export function protect(
  ...args: GuardsOrOptions
): <Req extends IncomingMessage, Res extends ServerResponse>(
  handler: NodeHandler<Req, Res>,
) => (req: Req, res: Res) => void {
  const chain = resolveChain("protect", args);
  return <Req extends IncomingMessage, Res extends ServerResponse>(handler: NodeHandler<Req, Res>) => {
    if (typeof handler !== "function") {
      throw configError("protect", `the handler must be a function, got ${describe(handler)}`);
    }
    const run = handler as unknown as NodeHandler;
    return function bulwarkListener(req: Req, res: Res): void {
      const view = new NodeHttpView(chain, req, res, run);
      const verdict = runChain(view);
      if (verdict === undefined) invoke(view);
      else if (isPending(verdict)) {
        verdict.then((settled) => (settled === undefined ? invoke(view) : writeOutcome(view, res, settled)));
      } else writeOutcome(view, res, verdict);
    };
  };
}
