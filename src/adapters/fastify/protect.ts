import { Readable } from "node:stream";
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from "fastify";
import type { Logger } from "../../core/logger.js";
import type { ContinueOutcome, RespondOutcome } from "../../core/outcome.js";
import {
  applyHeaders,
  type BulwarkLocals,
  type Chain,
  EMPTY_LOCALS,
  type GuardsOrOptions,
  type HeaderOps,
  INTERNAL,
  isPending,
  mergeLocals,
  resolveChain,
  runChain,
  tooLarge,
} from "../chain.js";
import { captureResponse, NodeView } from "../node-io.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Values bulwark guards set for this request (CSP nonce, CSRF token, request id, …). */
    bulwark: BulwarkLocals;
  }
}

/** Raw bodies read by guards during onRequest, replayed to Fastify's body parser in preParsing. */
const KEPT = new WeakMap<FastifyRequest, Uint8Array>();

/** The raw body exactly as received, when a guard read it; the route still gets its parsed `body`. */
export function rawBodyOf(request: FastifyRequest): Uint8Array | undefined {
  return KEPT.get(request);
}

/** Header operations through `reply.header`, so Fastify's own header handling keeps them. */
const REPLY_HEADERS: HeaderOps<FastifyReply> = {
  set: (reply, name, value) => {
    reply.header(name, value);
  },
  append: (reply, name, value) => {
    const previous = name === "set-cookie" ? undefined : reply.getHeader(name);
    if (previous === undefined) reply.header(name, value);
    else reply.header(name, [...(Array.isArray(previous) ? previous : [previous]).map(String), value]);
  },
};

class FastifyView extends NodeView {
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;

  constructor(chain: Chain, request: FastifyRequest, reply: FastifyReply) {
    super(chain, request.raw);
    this.request = request;
    this.reply = reply;
  }

  proceed(outcome: ContinueOutcome): void {
    const reply = this.reply;
    if (outcome.headers !== undefined) applyHeaders(REPLY_HEADERS, reply, outcome.headers);
    if (outcome.removeHeaders !== undefined)
      for (const name of outcome.removeHeaders) reply.removeHeader(name);
    if (outcome.locals !== undefined)
      this.request.bulwark = mergeLocals(this.request.bulwark, outcome.locals);
    if (outcome.onResponse !== undefined) {
      captureResponse(reply.raw, outcome.onResponse, this.method === "HEAD", this.logger());
    }
  }

  override logger(): Logger {
    return this.chain.logger ?? (this.request.log as unknown as Logger);
  }

  /** A body an earlier registration of the plugin already read is reused, not read twice. */
  protected override readBody(maxBytes: number): Promise<Uint8Array> {
    const kept = KEPT.get(this.request);
    if (kept === undefined) return super.readBody(maxBytes);
    return kept.byteLength > maxBytes ? Promise.reject(tooLarge(maxBytes)) : Promise.resolve(kept);
  }

  protected override keep(bytes: Uint8Array): void {
    KEPT.set(this.request, bytes);
  }
}

function respond(view: FastifyView, outcome: RespondOutcome): void {
  const reply = view.reply;
  if (reply.sent) return;
  try {
    reply.code(outcome.status);
    applyHeaders(REPLY_HEADERS, reply, outcome.headers);
    const body = outcome.body;
    // A Buffer keeps Fastify from appending "; charset=utf-8" to a JSON content type.
    reply.send(typeof body === "string" ? Buffer.from(body) : body);
  } catch (error) {
    if (outcome === INTERNAL) {
      reply.raw.destroy();
      return;
    }
    view.reportInternal(error, "a guard's response could not be written");
    respond(view, INTERNAL);
  }
}

type RequestPayload = Readable & { receivedEncodedLength?: number };

/** Hands Fastify's body parser the bytes a guard already read, so routes still get a parsed body. */
function replayBody(
  request: FastifyRequest,
  _reply: FastifyReply,
  payload: RequestPayload,
  done: (error: Error | null, payload?: RequestPayload) => void,
): void {
  const bytes = KEPT.get(request);
  if (bytes === undefined) {
    done(null, payload);
    return;
  }
  const replay: RequestPayload = new Readable({ read() {} });
  if (bytes.byteLength > 0) replay.push(bytes);
  replay.push(null);
  replay.receivedEncodedLength = bytes.byteLength;
  done(null, replay);
}

const SKIP_OVERRIDE = Symbol.for("skip-override");
const DISPLAY_NAME = Symbol.for("fastify.display-name");

/**
 * A Fastify 5 plugin running `guards` in order in an `onRequest` hook. It does not create an
 * encapsulation context (like fastify-plugin), so the hook covers every route, the 404 handler and the
 * error handler: `app.register(protect(guardA, guardB))`. The first guard that answers ends the chain;
 * continue outcomes set reply headers, merge locals into `request.bulwark` and may capture the final
 * response. A guard that throws answers 500 `ERR_INTERNAL` (problem+json, no details) and is logged
 * through `request.log`. An options object may come first.
 */
export function protect(...args: GuardsOrOptions): FastifyPluginCallback {
  const chain = resolveChain("protect", args);

  function onRequest(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (request.bulwark === null) request.bulwark = EMPTY_LOCALS;
    const view = new FastifyView(chain, request, reply);
    const verdict = runChain(view);
    if (verdict === undefined) done();
    else if (isPending(verdict)) {
      verdict.then((settled) => (settled === undefined ? done() : respond(view, settled)));
    } else respond(view, verdict);
  }

  function bulwarkProtect(fastify: FastifyInstance, _options: unknown, done: (error?: Error) => void): void {
    if (!fastify.hasRequestDecorator("bulwark")) fastify.decorateRequest("bulwark", null as never);
    fastify.addHook("onRequest", onRequest);
    fastify.addHook("preParsing", replayBody as never);
    done();
  }

  Object.assign(bulwarkProtect, { [SKIP_OVERRIDE]: true, [DISPLAY_NAME]: "bulwark" });
  return bulwarkProtect as unknown as FastifyPluginCallback;
}
