import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough, Readable } from "node:stream";
import { serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { NextRequest } from "next/server.js";
import type { GuardsOrOptions } from "../../src/adapters/chain.js";
import * as ex from "../../src/adapters/express/index.js";
import * as fa from "../../src/adapters/fastify/index.js";
import * as ho from "../../src/adapters/hono/index.js";
import * as ne from "../../src/adapters/next/index.js";
import * as no from "../../src/adapters/node/index.js";
import { currentRequestId } from "../../src/observe/context.js";

/**
 * One small application per adapter, identical in behaviour, for the contract suite:
 *   GET  /ok      200 JSON { locals } and `x-app: 1`
 *   GET  /boom    the handler throws an Error whose message must never reach the client
 *   POST /echo    answers the raw request body (as the application receives it after the guards)
 *   GET  /stream  201, two cookies, body written in two chunks ("part1-" then "part2")
 *   POST /locals  200 JSON { n, locals } and `x-app: 1`; `n` is the handler count so far
 *   GET  /ctx     200 JSON { before, after, locals }: the request id from `currentRequestId()`
 *                 before and after an await of a few milliseconds
 *   anything else the framework's own 404
 * Each server also gets an `x-powered-by` header from "the framework" before the guards run (Express
 * sets it itself), so `removeHeaders` has something real to remove.
 */

export const SECRET = "secret-internal-detail";

export interface Running {
  url: string;
  /** How many times an application handler ran. */
  handled: () => number;
  close(): Promise<void>;
}

export interface Harness {
  name: string;
  /** Does a request for an unknown path reach the guards (a framework 404)? */
  notFound: boolean;
  /** Can the adapter remove headers from / capture the application's response? */
  responseAccess: boolean;
  /** The peer address guards see over loopback. */
  remoteAddress: string | undefined;
  start(args: GuardsOrOptions): Promise<Running>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

function counter() {
  let n = 0;
  return { hit: () => void n++, handled: () => n };
}

/** What `GET /ctx` answers: the request id seen before and after an await in the handler. */
async function contextProbe(locals: unknown): Promise<string> {
  const before = currentRequestId();
  await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 5)));
  return JSON.stringify({ before, after: currentRequestId(), locals });
}

const node: Harness = {
  name: "node:http",
  notFound: true,
  responseAccess: true,
  remoteAddress: "127.0.0.1",
  async start(args) {
    const c = counter();
    const listener = no.protect(...args)(async (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method === "GET" || req.method === "HEAD") {
        if (path === "/ok") {
          c.hit();
          res.setHeader("content-type", "application/json");
          res.setHeader("x-app", "1");
          res.end(JSON.stringify({ locals: no.bulwarkLocals(req) }));
          return;
        }
        if (path === "/boom") {
          c.hit();
          throw new Error(SECRET);
        }
        if (path === "/ctx") {
          c.hit();
          const body = await contextProbe(no.bulwarkLocals(req));
          res.setHeader("content-type", "application/json");
          res.end(body);
          return;
        }
        if (path === "/stream") {
          c.hit();
          res.statusCode = 201;
          res.setHeader("set-cookie", ["s1=1", "s2=2"]);
          res.write("part1-");
          await new Promise((r) => setImmediate(r));
          res.end("part2");
          return;
        }
      }
      if (req.method === "POST" && path === "/echo") {
        c.hit();
        res.setHeader("content-type", "application/octet-stream");
        res.end(no.rawBodyOf(req));
        return;
      }
      if (req.method === "POST" && path === "/locals") {
        c.hit();
        res.setHeader("content-type", "application/json");
        res.setHeader("x-app", "1");
        res.end(JSON.stringify({ n: c.handled(), locals: no.bulwarkLocals(req) }));
        return;
      }
      res.statusCode = 404;
      res.end("not found");
    });
    const server = createServer((req, res) => {
      res.setHeader("x-powered-by", "node");
      listener(req, res);
    });
    return { url: await listen(server), handled: c.handled, close: closer(server) };
  },
};

const expressHarness: Harness = {
  name: "express",
  notFound: true,
  responseAccess: true,
  remoteAddress: "127.0.0.1",
  async start(args) {
    const c = counter();
    const app = express();
    app.use(ex.protect(...args));
    app.use(express.json());
    app.get("/ok", (_req, res) => {
      c.hit();
      res.setHeader("x-app", "1");
      res.json({ locals: res.locals.bulwark });
    });
    app.get("/boom", () => {
      c.hit();
      throw new Error(SECRET);
    });
    app.get("/stream", (_req, res) => {
      c.hit();
      res.status(201);
      res.setHeader("set-cookie", ["s1=1", "s2=2"]);
      res.write("part1-");
      setImmediate(() => res.end("part2"));
    });
    app.post("/echo", (req, res) => {
      c.hit();
      res.type("application/octet-stream").send(Buffer.from(ex.rawBodyOf(req) ?? new Uint8Array(0)));
    });
    app.post("/locals", (_req, res) => {
      c.hit();
      res.setHeader("x-app", "1");
      res.json({ n: c.handled(), locals: res.locals.bulwark });
    });
    app.get("/ctx", async (_req, res) => {
      c.hit();
      res.type("application/json").send(await contextProbe(res.locals.bulwark));
    });
    const server = createServer(app);
    return { url: await listen(server), handled: c.handled, close: closer(server) };
  },
};

const fastifyHarness: Harness = {
  name: "fastify",
  notFound: true,
  responseAccess: true,
  remoteAddress: "127.0.0.1",
  async start(args) {
    const c = counter();
    const app = Fastify({ logger: false });
    app.addHook("onRequest", (_request, reply, done) => {
      reply.header("x-powered-by", "fastify");
      done();
    });
    await app.register(fa.protect(...args));
    app.addContentTypeParser("application/octet-stream", { parseAs: "buffer" }, (_req, body, done) =>
      done(null, body),
    );
    app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) =>
      done(null, body),
    );
    app.post("/locals", async (request, reply) => {
      c.hit();
      reply.header("x-app", "1");
      return { n: c.handled(), locals: request.bulwark };
    });
    app.get("/ctx", async (request, reply) => {
      c.hit();
      reply.type("application/json");
      return contextProbe(request.bulwark);
    });
    app.get("/ok", async (request, reply) => {
      c.hit();
      reply.header("x-app", "1");
      return { locals: request.bulwark };
    });
    app.get("/boom", async () => {
      c.hit();
      throw new Error(SECRET);
    });
    app.get("/stream", (_request, reply) => {
      c.hit();
      const body = new PassThrough();
      reply.code(201).header("set-cookie", ["s1=1", "s2=2"]).send(body);
      body.write("part1-");
      setImmediate(() => body.end("part2"));
    });
    app.post("/echo", async (request, reply) => {
      c.hit();
      reply.type("application/octet-stream");
      // The parsed body (from Fastify's parser) must equal the raw bytes the guard read.
      return request.body as Buffer;
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      handled: c.handled,
      close: async () => {
        app.server.closeAllConnections();
        await app.close();
      },
    };
  },
};

const honoHarness: Harness = {
  name: "hono",
  notFound: true,
  responseAccess: true,
  remoteAddress: "127.0.0.1",
  async start(args) {
    const c = counter();
    const app = new Hono<ho.BulwarkEnv>();
    app.use(ho.protect(...args));
    app.use(async (ctx, next) => {
      await next();
      ctx.res.headers.set("x-powered-by", "Hono");
    });
    app.onError((_err, ctx) => ctx.text("Internal Server Error", 500));
    app.get("/ok", (ctx) => {
      c.hit();
      ctx.header("x-app", "1");
      return ctx.json({ locals: ctx.get("bulwark") });
    });
    app.get("/boom", () => {
      c.hit();
      throw new Error(SECRET);
    });
    app.get("/stream", () => {
      c.hit();
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode("part1-"));
          await new Promise((r) => setImmediate(r));
          controller.enqueue(encoder.encode("part2"));
          controller.close();
        },
      });
      const headers = new Headers();
      headers.append("set-cookie", "s1=1");
      headers.append("set-cookie", "s2=2");
      return new Response(body, { status: 201, headers });
    });
    app.post("/echo", async (ctx) => {
      c.hit();
      return ctx.body(await ctx.req.arrayBuffer(), 200, { "content-type": "application/octet-stream" });
    });
    app.post("/locals", (ctx) => {
      c.hit();
      ctx.header("x-app", "1");
      return ctx.json({ n: c.handled(), locals: ctx.get("bulwark") });
    });
    app.get("/ctx", async (ctx) => {
      c.hit();
      return ctx.body(await contextProbe(ctx.get("bulwark")), 200, { "content-type": "application/json" });
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
    await new Promise((r) => server.once("listening", r));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, handled: c.handled, close: closer(server) };
  },
};

// ---------------------------------------------------------------------------------------------------
// Next.js: a node:http bridge that builds real NextRequest objects and writes the Response back.

function toNextRequest(req: IncomingMessage): NextRequest {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
    headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new NextRequest(`http://${req.headers.host}${req.url}`, {
    method: req.method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : null,
    duplex: "half",
  } as ConstructorParameters<typeof NextRequest>[1]);
}

async function sendResponse(res: ServerResponse, response: Response, head: boolean): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== "set-cookie") res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  if (response.body === null || head) {
    res.end();
    return;
  }
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
  res.end();
}

type RouteHandler = (request: NextRequest) => Promise<Response>;

/** The route handlers of the Next.js application, plain (no guards). */
function nextRoutes(
  c: ReturnType<typeof counter>,
  locals: (r: NextRequest) => unknown,
): Record<string, RouteHandler> {
  return {
    "GET /ok": async (request) => {
      c.hit();
      return Response.json(
        { locals: locals(request) },
        { headers: { "x-app": "1", "x-powered-by": "Next.js" } },
      );
    },
    "GET /boom": async () => {
      c.hit();
      throw new Error(SECRET);
    },
    "GET /stream": async () => {
      c.hit();
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode("part1-"));
          await new Promise((r) => setImmediate(r));
          controller.enqueue(encoder.encode("part2"));
          controller.close();
        },
      });
      const headers = new Headers();
      headers.append("set-cookie", "s1=1");
      headers.append("set-cookie", "s2=2");
      return new Response(body, { status: 201, headers });
    },
    "POST /echo": async (request) => {
      c.hit();
      return new Response(await request.arrayBuffer(), {
        headers: { "content-type": "application/octet-stream" },
      });
    },
    "POST /locals": async (request) => {
      c.hit();
      return Response.json({ n: c.handled(), locals: locals(request) }, { headers: { "x-app": "1" } });
    },
    "GET /ctx": async (request) => {
      c.hit();
      return new Response(await contextProbe(locals(request)), {
        headers: { "content-type": "application/json" },
      });
    },
    // The CSRF token endpoint's route file: the guard answers before this runs.
    "GET /csrf-token": async () => new Response("not found", { status: 404 }),
    // A route answering CORS preflights itself (in Next.js an exported OPTIONS handler).
    "OPTIONS /ok": async () => new Response(null, { status: 204 }),
  };
}

function routeKey(request: NextRequest): string {
  return `${request.method === "HEAD" ? "GET" : request.method} ${request.nextUrl.pathname}`;
}

const nextRoute: Harness = {
  name: "next (withGuards)",
  notFound: false,
  responseAccess: true,
  remoteAddress: undefined,
  async start(args) {
    const c = counter();
    const routes = nextRoutes(c, (r) => ne.bulwarkLocals(r));
    const guarded = Object.fromEntries(
      Object.entries(routes).map(([k, h]) => [k, ne.withGuards(h, ...args)]),
    );
    const server = createServer(async (req, res) => {
      const request = toNextRequest(req);
      const handler = guarded[routeKey(request)];
      const response = handler ? await handler(request) : new Response("not found", { status: 404 });
      await sendResponse(res, response, req.method === "HEAD");
    });
    return { url: await listen(server), handled: c.handled, close: closer(server) };
  },
};

/**
 * Next.js middleware through the bridge. Where Next.js itself would act, the bridge does what Next.js
 * does with a middleware response: answer with it, or (on `x-middleware-next`) apply the request header
 * override, run the route (or its 404 / 500) and add the middleware's response headers.
 */
const nextMiddleware: Harness = {
  name: "next (middleware)",
  notFound: true,
  responseAccess: false,
  remoteAddress: undefined,
  async start(args) {
    const c = counter();
    const routes = nextRoutes(c, (r) => ne.forwardedLocals(r));
    const mw = ne.middleware(...args);
    const server = createServer(async (req, res) => {
      const request = toNextRequest(req);
      const decision = await mw(request);
      if (decision.headers.get("x-middleware-next") !== "1") {
        await sendResponse(res, decision, req.method === "HEAD");
        return;
      }
      let forwardedRequest = request;
      const override = decision.headers.get("x-middleware-override-headers");
      if (override !== null) {
        const headers = new Headers();
        for (const name of override.split(",")) {
          const value = decision.headers.get(`x-middleware-request-${name}`);
          if (value !== null) headers.set(name, value);
        }
        forwardedRequest = new NextRequest(request, { headers });
      }
      const handler = routes[routeKey(request)];
      let response: Response;
      try {
        response = handler ? await handler(forwardedRequest) : new Response("not found", { status: 404 });
      } catch {
        response = new Response("Internal Server Error", { status: 500 });
      }
      for (const [name, value] of decision.headers) {
        if (name.startsWith("x-middleware-")) continue;
        if (name === "set-cookie") response.headers.append(name, value);
        else response.headers.set(name, value);
      }
      await sendResponse(res, response, req.method === "HEAD");
    });
    return { url: await listen(server), handled: c.handled, close: closer(server) };
  },
};

export const HARNESSES: readonly Harness[] = [
  node,
  expressHarness,
  fastifyHarness,
  honoHarness,
  nextRoute,
  nextMiddleware,
];

// ---------------------------------------------------------------------------------------------------
// A raw HTTP client: exact status, every header line, exact body bytes.

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface SendInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length), in chunks of this many bytes. */
  chunkBytes?: number;
}

export function send(base: string, path: string, init: SendInit = {}): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.body !== undefined && init.chunkBytes === undefined)
      headers["content-length"] = String(init.body.length);
    const req = request(
      { host: url.hostname, port: url.port, path, method: init.method ?? "GET", headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    const body = init.body;
    if (body === undefined) {
      req.end();
      return;
    }
    if (init.chunkBytes === undefined) {
      req.end(body);
      return;
    }
    for (let at = 0; at < body.length; at += init.chunkBytes)
      req.write(body.subarray(at, at + init.chunkBytes));
    req.end();
  });
}
