import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../core/logger.js";
import type { ContinueOutcome, HeaderList, RespondOutcome } from "../core/outcome.js";
import {
  AdapterView,
  appends,
  deliver,
  EMPTY_BODY,
  headerPlan,
  INTERNAL,
  incomplete,
  isBodilessStatus,
  tooLarge,
  unavailable,
} from "./chain.js";

/**
 * What the node:http, Express and Fastify adapters share: a view straight over `IncomingMessage`
 * (no copy), body reading with a byte limit, and response capture by wrapping `res.write`/`res.end`.
 */

/**
 * Reads an `IncomingMessage` body to the end, at most `maxBytes`. A declared `Content-Length` over the
 * limit is refused before reading; a body that grows past it stops being read (the adapter then answers
 * 413 and closes the connection).
 */
export function readIncoming(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge(maxBytes));
  // HTTP/1.x: without Content-Length or Transfer-Encoding there is no body (RFC 9112 §6.3).
  if (
    declared === undefined &&
    req.headers["transfer-encoding"] === undefined &&
    req.httpVersionMajor === 1
  ) {
    return Promise.resolve(EMPTY_BODY);
  }
  if (req.readableEnded || req.readableDidRead) return Promise.reject(unavailable());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (error: unknown) => {
      cleanup();
      reject(incomplete(error));
    };
    const onClose = () => {
      cleanup();
      reject(incomplete());
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/** A RequestView over a node `IncomingMessage`: every field is read lazily from the request itself. */
export abstract class NodeView<Req extends IncomingMessage = IncomingMessage> extends AdapterView {
  readonly req: Req;

  constructor(chain: AdapterView["chain"], req: Req) {
    super(chain);
    this.req = req;
  }

  get method(): string {
    return this.req.method ?? "GET";
  }

  get url(): string {
    return this.req.url ?? "/";
  }

  header(name: string): string | undefined {
    const value = this.req.headers[name.toLowerCase()];
    return value === undefined || typeof value === "string" ? value : value.join(", ");
  }

  get remoteAddress(): string | undefined {
    return this.req.socket?.remoteAddress;
  }

  get protocol(): "http" | "https" {
    return (this.req.socket as TLSSocket | null)?.encrypted === true ? "https" : "http";
  }

  protected readBody(maxBytes: number): Promise<Uint8Array> {
    const kept = (this.req as { rawBody?: unknown }).rawBody;
    if (kept instanceof Uint8Array) {
      return kept.byteLength > maxBytes ? Promise.reject(tooLarge(maxBytes)) : Promise.resolve(kept);
    }
    return readIncoming(this.req, maxBytes).then((bytes) => {
      this.keep(bytes);
      return bytes;
    });
  }

  /** Makes the bytes available to the application after the stream was consumed. */
  protected keep(bytes: Uint8Array): void {
    (this.req as { rawBody?: Uint8Array }).rawBody = bytes;
  }
}

/** The raw body a guard read from this request (node:http and Express), if one did. */
export function keptRawBody(req: IncomingMessage): Uint8Array | undefined {
  const kept = (req as { rawBody?: unknown }).rawBody;
  return kept instanceof Uint8Array ? kept : undefined;
}

/**
 * `applyHeaders` for a node response, calling it directly. A value that accumulates (`vary`,
 * `set-cookie`, a repeated name) is appended only when the response has the header already, which is
 * what `appendHeader` does, without validating the header twice.
 */
export function setNodeHeaders(res: ServerResponse, list: HeaderList): void {
  const plan = headerPlan(list);
  if (plan !== undefined) {
    const { names, values, appends: adds } = plan;
    for (let i = 0; i < names.length; i++) {
      setOne(res, names[i] as string, values[i] as string, adds[i] as boolean);
    }
    return;
  }
  for (let i = 0; i < list.length; i++) {
    const entry = list[i] as readonly [string, string];
    const name = entry[0];
    setOne(res, name, entry[1], appends(list, i, name));
  }
}

function setOne(res: ServerResponse, name: string, value: string, append: boolean): void {
  if (append && res.hasHeader(name)) res.appendHeader(name, value);
  else res.setHeader(name, value);
}

/** Applies the response-side fields of a continue outcome to a node response. */
export function applyContinue(view: AdapterView, res: ServerResponse, outcome: ContinueOutcome): void {
  if (outcome.headers !== undefined) setNodeHeaders(res, outcome.headers);
  const removals = outcome.removeHeaders;
  if (removals !== undefined)
    for (let i = 0; i < removals.length; i++) res.removeHeader(removals[i] as string);
  if (outcome.onResponse !== undefined) {
    captureResponse(res, outcome.onResponse, view.method === "HEAD", view.logger());
  }
}

/** Answers with a respond outcome; a response the guard built badly becomes a 500. */
export function writeOutcome(view: AdapterView, res: ServerResponse, outcome: RespondOutcome): void {
  if (res.headersSent || res.writableEnded) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  try {
    res.statusCode = outcome.status;
    setNodeHeaders(res, outcome.headers);
    res.end(outcome.body);
  } catch (error) {
    if (outcome === INTERNAL) {
      res.destroy();
      return;
    }
    view.reportInternal(error, "a guard's response could not be written");
    writeOutcome(view, res, INTERNAL);
  }
}

// ---------------------------------------------------------------------------------------------------
// Response capture

type Hook = NonNullable<ContinueOutcome["onResponse"]>;
const CAPTURE: unique symbol = Symbol("bulwark.capture");
type Captured = ServerResponse & { [CAPTURE]?: Capture };

class Capture {
  readonly hooks: Hook[] = [];
  readonly chunks: Buffer[] = [];
  size = 0;
  headArg: unknown = undefined;
  ended = false;
  closed = false;
  delivered = false;

  constructor(
    readonly res: ServerResponse,
    readonly head: boolean,
    readonly logger: Logger,
  ) {}

  add(chunk: unknown, encoding: unknown): void {
    if (this.ended || chunk === undefined || chunk === null || typeof chunk === "function") return;
    let buf: Buffer;
    if (typeof chunk === "string") {
      buf = Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
    } else if (chunk instanceof Uint8Array) {
      buf = Buffer.from(chunk);
    } else return;
    if (buf.length === 0) return;
    this.chunks.push(buf);
    this.size += buf.length;
  }

  finish(): void {
    if (this.delivered) return;
    this.delivered = true;
    const status = this.res.statusCode;
    const body =
      this.head || isBodilessStatus(status) || this.size === 0
        ? EMPTY_BODY
        : this.chunks.length === 1
          ? (this.chunks[0] as Buffer)
          : Buffer.concat(this.chunks, this.size);
    deliver(this.hooks, { status, headers: collectHeaders(this.res, this.headArg), body }, this.logger);
  }
}

function addValues(into: Map<string, string[]>, name: string, value: unknown, replace: boolean): void {
  if (value === undefined || value === null) return;
  const key = name.toLowerCase();
  const values = Array.isArray(value) ? value.map(String) : [String(value)];
  const existing = into.get(key);
  if (existing === undefined || replace) into.set(key, values);
  else existing.push(...values);
}

/** Final headers: those set with setHeader plus any passed straight to writeHead. */
function collectHeaders(res: ServerResponse, headArg: unknown): HeaderList {
  const map = new Map<string, string[]>();
  const set = res.getHeaders();
  for (const name of Object.keys(set)) addValues(map, name, set[name], true);
  if (Array.isArray(headArg)) {
    const fromHead = new Map<string, string[]>();
    if (headArg.length > 0 && Array.isArray(headArg[0])) {
      for (const pair of headArg as unknown[][]) addValues(fromHead, String(pair[0]), pair[1], false);
    } else {
      for (let i = 0; i + 1 < headArg.length; i += 2)
        addValues(fromHead, String(headArg[i]), headArg[i + 1], false);
    }
    for (const [name, values] of fromHead) map.set(name, values);
  } else if (headArg !== null && typeof headArg === "object") {
    const record = headArg as Record<string, unknown>;
    for (const name of Object.keys(record)) addValues(map, name, record[name], true);
  }
  const out: Array<readonly [string, string]> = [];
  for (const [name, values] of map) for (const value of values) out.push([name, value]);
  return out;
}

/**
 * Registers `hook` to receive the final response. The first hook on a response wraps its
 * `writeHead`/`write`/`end` (streaming is untouched: every call passes straight through); the captured
 * response is delivered once, after the handler ended it and the response closed.
 */
export function captureResponse(res: ServerResponse, hook: Hook, head: boolean, logger: Logger): void {
  const target = res as Captured;
  const existing = target[CAPTURE];
  if (existing !== undefined) {
    existing.hooks.push(hook);
    return;
  }
  const capture = new Capture(res, head, logger);
  capture.hooks.push(hook);
  target[CAPTURE] = capture;
  const { writeHead, write, end } = res;
  res.writeHead = function bulwarkWriteHead(this: ServerResponse, ...args: unknown[]) {
    if (args.length > 1) {
      const last = args[args.length - 1];
      if (last !== null && typeof last === "object") capture.headArg = last;
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse["writeHead"];
  res.write = function bulwarkWrite(this: ServerResponse, ...args: unknown[]) {
    capture.add(args[0], args[1]);
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as ServerResponse["write"];
  res.end = function bulwarkEnd(this: ServerResponse, ...args: unknown[]) {
    const first = !capture.ended;
    if (first) capture.add(args[0], args[1]);
    const result = (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    if (first) {
      capture.ended = true;
      if (capture.closed) capture.finish();
    }
    return result;
  } as ServerResponse["end"];
  res.once("close", () => {
    capture.closed = true;
    if (capture.ended) capture.finish();
  });
}
