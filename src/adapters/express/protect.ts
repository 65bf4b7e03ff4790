import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { ContinueOutcome } from "../../core/outcome.js";
import {
  type BulwarkLocals,
  type Chain,
  EMPTY_LOCALS,
  type GuardsOrOptions,
  isPending,
  mergeLocals,
  resolveChain,
  runChain,
} from "../chain.js";
import { applyContinue, keptRawBody, NodeView, writeOutcome } from "../node-io.js";

declare module "express-serve-static-core" {
  interface Locals {
    /** Values bulwark guards set for this request (CSP nonce, CSRF token, request id, …). */
    bulwark?: BulwarkLocals;
  }
}

/**
 * The raw body exactly as received, when a guard read it (also `req.rawBody`). Body parsers mounted
 * after bulwark see the body as already read and skip it instead of waiting for it.
 */
export function rawBodyOf(req: Request): Uint8Array | undefined {
  return keptRawBody(req);
}

class ExpressView extends NodeView<Request> {
  readonly res: Response;

  constructor(chain: Chain, req: Request, res: Response) {
    super(chain, req);
    this.res = res;
  }

  /** The target as received, even under a mount path (`app.use("/api", …)` rewrites `req.url`). */
  override get url(): string {
    return this.req.originalUrl ?? this.req.url;
  }

  proceed(outcome: ContinueOutcome): void {
    applyContinue(this, this.res, outcome);
    if (outcome.locals !== undefined) {
      this.res.locals.bulwark = mergeLocals(this.res.locals.bulwark, outcome.locals);
    }
  }

  protected override keep(bytes: Uint8Array): void {
    super.keep(bytes);
    // body-parser 1.x (Express 4) checks `_body`; 2.x sees the finished stream. Either way it skips.
    (this.req as { _body?: boolean })._body = true;
  }
}

/**
 * Express 5 middleware running `guards` in order. The first guard that answers ends the chain;
 * continue outcomes set their headers before the route runs (so 404s and error pages carry them too),
 * remove headers such as `X-Powered-By`, merge locals into `res.locals.bulwark` and may capture the
 * final response. A guard that throws answers 500 `ERR_INTERNAL` (problem+json, no details) and is
 * logged. An options object may come first: `protect({ logger }, guardA, guardB)`.
 */
export function protect(...args: GuardsOrOptions): RequestHandler {
  const chain = resolveChain("protect", args);
  return function bulwarkProtect(req: Request, res: Response, next: NextFunction): void {
    if (res.locals.bulwark === undefined) res.locals.bulwark = EMPTY_LOCALS;
    const view = new ExpressView(chain, req, res);
    const verdict = runChain(view);
    if (verdict === undefined) next();
    else if (isPending(verdict)) {
      verdict.then((settled) => (settled === undefined ? next() : writeOutcome(view, res, settled)));
    } else writeOutcome(view, res, verdict);
  };
}
