/**
 * The request context entered by the guard (AsyncLocalStorage.enterWith) must survive each framework's
 * own body parsing and reach the handler, under concurrency and keep-alive. The glue below does what the
 * adapters do: call the guard synchronously when the request arrives, apply its headers, continue.
 */
import { Agent, createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import type { ContinueOutcome } from "../core/outcome.js";
import { viewFromParts } from "../core/request.js";
import { currentRequestId, requestContextGuard } from "./context.js";

const guard = requestContextGuard();
const enter = (headers: Record<string, string | string[] | undefined>) =>
  guard(viewFromParts({ headers: headers as Record<string, string> })) as ContinueOutcome;
const pause = (n: number) => new Promise((resolve) => setTimeout(resolve, n % 4));

function post(port: number, agent: Agent, n: number) {
  const body = JSON.stringify({ n, padding: "x".repeat((n * 997) % 20_000) });
  return new Promise<{ header: string | undefined; seen: unknown }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        path: "/echo",
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "x-request-id": `req-${n}` },
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          data += chunk;
        });
        res.on("end", () =>
          resolve({ header: res.headers["x-request-id"] as string, seen: JSON.parse(data) }),
        );
      },
    );
    req.on("error", reject);
    // Send the body in two pieces, a moment apart, so parsing spans several socket reads.
    const cut = Math.floor(body.length / 2);
    req.write(body.slice(0, cut));
    setTimeout(() => req.end(body.slice(cut)), n % 3);
  });
}

async function hammer(port: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const results = await Promise.all(Array.from({ length: 40 }, (_, n) => post(port, agent, n)));
  agent.destroy();
  results.forEach((r, n) => {
    expect(r.header).toBe(`req-${n}`);
    expect(r.seen).toEqual({ n, beforeBody: `req-${n}`, afterBody: `req-${n}`, afterAwait: `req-${n}` });
  });
}

describe("request context through real frameworks (40 concurrent JSON POSTs, keep-alive)", () => {
  let close: (() => Promise<unknown>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it("Express 5 with express.json()", async () => {
    const app = express();
    app.use((req, res, next) => {
      const outcome = enter(req.headers);
      for (const [k, v] of outcome.headers ?? []) res.setHeader(k, v);
      (res.locals as Record<string, unknown>).beforeBody = currentRequestId();
      next();
    });
    app.use(express.json({ limit: "100kb" }));
    app.post("/echo", async (req, res) => {
      const afterBody = currentRequestId();
      await pause(req.body.n);
      res.json({
        n: req.body.n,
        beforeBody: res.locals.beforeBody,
        afterBody,
        afterAwait: currentRequestId(),
      });
    });
    const server: Server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    close = () => new Promise((resolve) => server.close(resolve));
    await hammer((server.address() as AddressInfo).port);
  });

  it("Fastify 5 (onRequest hook, built-in JSON parser)", async () => {
    const app = Fastify();
    app.addHook("onRequest", (request, reply, done) => {
      const outcome = enter(request.headers);
      for (const [k, v] of outcome.headers ?? []) reply.header(k, v);
      (request as unknown as { beforeBody?: string }).beforeBody = currentRequestId();
      done();
    });
    app.post("/echo", async (request) => {
      const afterBody = currentRequestId();
      const { n } = request.body as { n: number };
      await pause(n);
      return {
        n,
        beforeBody: (request as unknown as { beforeBody?: string }).beforeBody,
        afterBody,
        afterAwait: currentRequestId(),
      };
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    close = () => app.close();
    await hammer((app.server.address() as AddressInfo).port);
  });

  it("Hono 4 on @hono/node-server", async () => {
    const app = new Hono<{ Variables: { beforeBody: string | undefined } }>();
    app.use(async (c, next) => {
      const outcome = enter(Object.fromEntries(c.req.raw.headers));
      c.set("beforeBody", currentRequestId());
      await next();
      for (const [k, v] of outcome.headers ?? []) c.header(k, v);
    });
    app.post("/echo", async (c) => {
      const body = (await c.req.json()) as { n: number };
      const afterBody = currentRequestId();
      await pause(body.n);
      return c.json({
        n: body.n,
        beforeBody: c.get("beforeBody"),
        afterBody,
        afterAwait: currentRequestId(),
      });
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise((resolve) => server.once("listening", resolve));
    close = () => new Promise((resolve) => server.close(resolve));
    await hammer((server.address() as AddressInfo).port);
  });

  it("node:http reading the body with for-await", async () => {
    const server = createServer((req, res) => {
      const outcome = enter(req.headers);
      for (const [k, v] of outcome.headers ?? []) res.setHeader(k, v);
      const beforeBody = currentRequestId();
      void (async () => {
        let text = "";
        for await (const chunk of req) text += chunk;
        const afterBody = currentRequestId();
        const { n } = JSON.parse(text) as { n: number };
        await pause(n);
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ n, beforeBody, afterBody, afterAwait: currentRequestId() }));
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    close = () => new Promise((resolve) => server.close(resolve));
    await hammer((server.address() as AddressInfo).port);
  });
});
