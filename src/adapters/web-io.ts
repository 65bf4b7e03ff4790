import { isBulwarkError } from "../core/errors.js";
import type { ContinueOutcome, HeaderList, RespondOutcome } from "../core/outcome.js";
import {
  AdapterView,
  applyHeaders,
  type BulwarkLocals,
  deliver,
  describeError,
  EMPTY_BODY,
  INTERNAL,
  incomplete,
  isBodilessStatus,
  tooLarge,
  unavailable,
  WEB_HEADERS,
} from "./chain.js";

/**
 * What the Hono and Next.js adapters share: views over a WHATWG `Request`, body reading from a clone
 * (the application can still read the body), and merging guard headers into the application's
 * `Response`, which may be immutable (`Response.redirect`, a proxied `fetch` response).
 */

type Hook = NonNullable<ContinueOutcome["onResponse"]>;
const encoder = new TextEncoder();

/**
 * Reads a Request's body from a clone, at most `maxBytes`; a declared `Content-Length` over the limit
 * is refused before reading. The original request stays readable for the application.
 */
export async function readRequestBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (request.body === null) return EMPTY_BODY;
  if (request.bodyUsed) throw unavailable();
  const reader = request.clone().body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        reader.cancel().catch(() => {});
        throw tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (isBulwarkError(error)) throw error;
    throw incomplete(error);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Path plus query of an absolute URL string, without parsing it. */
export function targetOf(url: string): string {
  const scheme = url.indexOf("://");
  const slash = url.indexOf("/", scheme === -1 ? 0 : scheme + 3);
  if (slash === -1) {
    const q = url.indexOf("?", scheme === -1 ? 0 : scheme + 3);
    return q === -1 ? "/" : `/${url.slice(q)}`;
  }
  return url.slice(slash);
}

/** The headers of a Headers object as a list, `set-cookie` values kept apart. */
export function headerList(headers: Headers): HeaderList {
  const out: Array<readonly [string, string]> = [];
  for (const [name, value] of headers) out.push([name, value]);
  return out;
}

function mergeHeaders(target: Headers, defaults: Headers | undefined, removals: string[] | undefined): void {
  if (defaults !== undefined) {
    for (const [name, value] of defaults) {
      if (name === "set-cookie" || name === "vary") target.append(name, value);
      else if (!target.has(name)) target.set(name, value);
    }
  }
  if (removals !== undefined) for (const name of removals) target.delete(name);
}

/**
 * A view over a WHATWG Request that accumulates continue outcomes: headers (applied to the application's
 * response as defaults it may override), removals, locals and response hooks.
 */
export abstract class WebView extends AdapterView {
  headers: Headers | undefined = undefined;
  removals: string[] | undefined = undefined;
  hooks: Hook[] | undefined = undefined;

  /** The request whose body `rawBody` reads. */
  abstract request(): Request;
  /** Stores the merged locals where the application reads them. */
  protected abstract storeLocals(add: Readonly<Record<string, unknown>>): BulwarkLocals;

  protected readBody(maxBytes: number): Promise<Uint8Array> {
    return readRequestBody(this.request(), maxBytes);
  }

  proceed(outcome: ContinueOutcome): void {
    if (outcome.headers !== undefined) {
      if (this.headers === undefined) this.headers = new Headers();
      applyHeaders(WEB_HEADERS, this.headers, outcome.headers);
    }
    if (outcome.removeHeaders !== undefined) {
      if (this.removals === undefined) this.removals = [];
      for (const name of outcome.removeHeaders) {
        this.headers?.delete(name);
        this.removals.push(name);
      }
    }
    if (outcome.locals !== undefined) this.storeLocals(outcome.locals);
    if (outcome.onResponse !== undefined) {
      if (this.hooks === undefined) this.hooks = [];
      this.hooks.push(outcome.onResponse);
    }
  }

  /** The Response for a respond outcome, carrying the headers earlier guards set. */
  answer(outcome: RespondOutcome): Response {
    const headers = this.headers ?? new Headers();
    const status = outcome.status;
    const bodiless = isBodilessStatus(status) || this.method === "HEAD";
    const body = bodiless || outcome.body === undefined ? null : outcome.body;
    let response: Response;
    try {
      applyHeaders(WEB_HEADERS, headers, outcome.headers);
      if (this.removals !== undefined) for (const name of this.removals) headers.delete(name);
      response = new Response(body as BodyInit | null, { status, headers });
    } catch (error) {
      if (outcome === INTERNAL) {
        return new Response(INTERNAL.body as string, {
          status: 500,
          headers: INTERNAL.headers as [string, string][],
        });
      }
      this.reportInternal(error, "a guard's response could not be written");
      return this.answer(INTERNAL);
    }
    if (this.hooks !== undefined) {
      const bytes =
        body === null ? EMPTY_BODY : typeof body === "string" ? encoder.encode(body) : (body as Uint8Array);
      const captured = { status, headers: headerList(response.headers), body: bytes };
      const hooks = this.hooks;
      this.hooks = undefined;
      queueMicrotask(() => deliver(hooks, captured, this.logger()));
    }
    return response;
  }

  /**
   * Applies the chain's headers and removals to the application's response (rebuilding it when its
   * headers are immutable) and starts capturing it when a guard asked. Returns the response to send.
   */
  finish(response: Response): Response {
    if (this.headers !== undefined || this.removals !== undefined) {
      try {
        mergeHeaders(response.headers, this.headers, this.removals);
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
        response = new Response(response.body, response);
        mergeHeaders(response.headers, this.headers, this.removals);
      }
    }
    if (this.hooks !== undefined) this.capture(response, this.hooks);
    return response;
  }

  private capture(response: Response, hooks: Hook[]): void {
    const status = response.status;
    const headers = headerList(response.headers);
    const logger = this.logger();
    if (response.body === null || this.method === "HEAD" || isBodilessStatus(status)) {
      queueMicrotask(() => deliver(hooks, { status, headers, body: EMPTY_BODY }, logger));
      return;
    }
    response
      .clone()
      .arrayBuffer()
      .then(
        (buffer) => deliver(hooks, { status, headers, body: new Uint8Array(buffer) }, logger),
        (error: unknown) =>
          logger.warn(
            { code: "ERR_BODY_INCOMPLETE", error: describeError(error) },
            "bulwark: the response body could not be captured for onResponse",
          ),
      );
  }
}
