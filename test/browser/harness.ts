import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Guard } from "../../src/core/outcome.js";
import type { RequestView } from "../../src/core/request.js";

/**
 * A minimal node:http host for Guards, for the browser suite until the adapters land: it builds a
 * RequestView, runs the guards in order, applies continue outcomes (headers, removals, locals) and
 * answers respond outcomes with the headers collected so far. It records every refusal.
 */

export interface Refusal {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly code: string | undefined;
}

export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  context: { view: RequestView; locals: Record<string, unknown>; body: () => Promise<string> },
) => void | Promise<void>;

const APPENDED = new Set(["set-cookie", "vary"]);

function viewOf(req: IncomingMessage): { view: RequestView; body: () => Promise<Uint8Array> } {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  let read: Promise<Uint8Array> | undefined;
  const body = (maxBytes = 1_048_576) => {
    read ??= new Promise<Uint8Array>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) reject(Object.assign(new Error("body too large"), { status: 413 }));
        else chunks.push(chunk);
      });
      req.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
      req.on("error", reject);
    });
    return read;
  };
  const view: RequestView = {
    method: (req.method ?? "GET").toUpperCase(),
    url,
    path: q === -1 ? url : url.slice(0, q),
    header: (name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(", ") : v;
    },
    remoteAddress: req.socket.remoteAddress,
    protocol: "http",
    rawBody: body,
  };
  return { view, body };
}

function setHeader(res: ServerResponse, name: string, value: string): void {
  if (!APPENDED.has(name)) {
    res.setHeader(name, value);
    return;
  }
  const current = res.getHeader(name);
  if (current === undefined) res.setHeader(name, name === "set-cookie" ? [value] : value);
  else if (name === "set-cookie") res.setHeader(name, [...(current as string[]), value]);
  else res.setHeader(name, `${current}, ${value}`);
}

export interface GuardedServer {
  readonly server: Server;
  readonly port: number;
  readonly refusals: Refusal[];
  /** Paths (with method) whose handler ran. */
  readonly handled: string[];
  close(): Promise<void>;
}

/** Starts a server on `host`, port chosen by the OS. */
export async function guardedServer(
  host: string,
  guards: readonly Guard[],
  handler: Handler,
): Promise<GuardedServer> {
  const refusals: Refusal[] = [];
  const handled: string[] = [];
  const server = createServer(async (req, res) => {
    try {
      const { view, body } = viewOf(req);
      const locals: Record<string, unknown> = {};
      for (const guard of guards) {
        const outcome = await guard(view);
        if (outcome.action === "respond") {
          for (const [name, value] of outcome.headers) setHeader(res, name, value);
          let code: string | undefined;
          try {
            code = JSON.parse(String(outcome.body)).code;
          } catch {}
          if (outcome.status >= 400)
            refusals.push({ method: view.method, path: view.path, status: outcome.status, code });
          res.writeHead(outcome.status);
          res.end(view.method === "HEAD" ? undefined : outcome.body);
          return;
        }
        for (const [name, value] of outcome.headers ?? []) setHeader(res, name, value);
        for (const name of outcome.removeHeaders ?? []) res.removeHeader(name);
        Object.assign(locals, outcome.locals);
      }
      handled.push(`${view.method} ${view.path}`);
      await handler(req, res, { view, locals, body: async () => new TextDecoder().decode(await body()) });
    } catch (error) {
      const status = (error as { status?: number }).status ?? 500;
      if (!res.headersSent) res.writeHead(status);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    refusals,
    handled,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
