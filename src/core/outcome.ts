import type { RequestView } from "./request.js";

/**
 * What a capability tells an adapter to do with a request. Capabilities return these as values;
 * they never throw for an expected rejection. Adapters are the only code that turns an outcome into
 * framework calls.
 */

/** Response headers as name/value pairs; a name may repeat (e.g. `set-cookie`). Names are lower-case. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** The response a handler produced, captured for capabilities that must store or inspect it. */
export interface CapturedResponse {
  status: number;
  headers: HeaderList;
  body: Uint8Array;
}

/** Let the request through, after setting `headers` on the response. */
export interface ContinueOutcome {
  readonly action: "continue";
  readonly headers?: HeaderList;
  /** Names of headers to remove from the response (e.g. `x-powered-by`). */
  readonly removeHeaders?: readonly string[];
  /**
   * Values for the application (CSP nonce, CSRF token, request id). Adapters merge them into one
   * per-request object: `res.locals.bulwark` (Express), `request.bulwark` (Fastify),
   * `c.get("bulwark")` (Hono), `bulwarkLocals(req)` (node:http, Next.js).
   */
  readonly locals?: Readonly<Record<string, unknown>>;
  /** Called once with the final response (status, headers, full body) after the handler finished. */
  readonly onResponse?: (response: CapturedResponse) => void | Promise<void>;
}

/** Answer the request now; the application handler does not run. */
export interface RespondOutcome {
  readonly action: "respond";
  readonly status: number;
  readonly headers: HeaderList;
  readonly body?: string | Uint8Array;
}

export type Outcome = ContinueOutcome | RespondOutcome;

/** A capability in adapter-ready form: a function from a request to an outcome. */
export type Guard = (request: RequestView) => Outcome | Promise<Outcome>;

/** The outcome that changes nothing. Shared, frozen, allocation-free. */
export const CONTINUE: ContinueOutcome = Object.freeze({ action: "continue" });
