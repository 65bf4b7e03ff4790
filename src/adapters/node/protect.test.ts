import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { send } from "../../../test/adapters/harness.js";
import { TEST_CERT, TEST_KEY } from "../../../test/adapters/tls-fixture.js";
import { memoryLogger } from "../../core/logger.js";
import { type CapturedResponse, CONTINUE, type Guard } from "../../core/outcome.js";
import { cors } from "../../cors/index.js";
import { secureHeaders } from "../../headers/index.js";
import { rateLimit, rateLimitGuard } from "../../ratelimit/index.js";
import { memoryStore } from "../../stores/memory/index.js";
import { bulwarkLocals, protect, rawBodyOf } from "./index.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

async function serve(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function captured(): {
  hook: (r: CapturedResponse) => void;
  next: Promise<CapturedResponse>;
  all: CapturedResponse[];
} {
  const all: CapturedResponse[] = [];
  let resolve!: (r: CapturedResponse) => void;
  const next = new Promise<CapturedResponse>((r) => {
    resolve = r;
  });
  return {
    all,
    next,
    hook: (r) => {
      all.push(r);
      resolve(r);
    },
  };
}

describe("node:http protect", () => {
  it("sees https as the protocol on a TLS socket", async () => {
    const seen: string[] = [];
    const listener = protect((view) => {
      seen.push(view.protocol);
      return CONTINUE;
    })((_req, res) => res.end("ok"));
    const server = createHttpsServer({ key: TEST_KEY, cert: TEST_CERT }, listener);
    servers.push(server as unknown as Server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { request } = await import("node:https");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: (server.address() as AddressInfo).port,
          path: "/",
          ca: TEST_CERT,
          agent: false,
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(seen).toEqual(["https"]);
  });

  it("answers 500 ERR_INTERNAL when an async handler rejects, keeping the guard headers", async () => {
    const logger = memoryLogger();
    const url = await serve(
      protect({ logger }, () => ({ action: "continue", headers: [["x-guard", "1"]] }))(async () => {
        throw new Error("db password wrong");
      }),
    );
    const r = await send(url, "/");
    expect(r.status).toBe(500);
    expect(r.headers["x-guard"]).toBe("1");
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: "ERR_INTERNAL" });
    expect(r.body.toString()).not.toContain("password");
    expect(logger.entries).toMatchObject([{ level: "error", code: "ERR_INTERNAL" }]);
  });

  it("cuts the connection when the handler fails after the headers went out", async () => {
    const url = await serve(
      protect(
        { logger: memoryLogger() },
        () => CONTINUE,
      )((_req, res) => {
        res.writeHead(200, { "content-length": "10" });
        res.write("hal");
        throw new Error("half way");
      }),
    );
    await expect(send(url, "/")).rejects.toThrow();
  });

  it("refuses a handler that is not a function", () => {
    expect(() => protect(() => CONTINUE)("nope" as never)).toThrowError(/handler must be a function/);
  });

  it("captures headers passed straight to writeHead, as an object or a flat array", async () => {
    for (const head of [
      { "content-type": "text/plain", "x-direct": "1" },
      ["content-type", "text/plain", "x-direct", "1", "set-cookie", "a=1", "set-cookie", "b=2"],
    ]) {
      const hook = captured();
      const url = await serve(
        protect(() => ({ action: "continue", onResponse: hook.hook }))((_req, res) => {
          res.writeHead(202, head as never);
          res.end(Buffer.from("done"));
        }),
      );
      const r = await send(url, "/");
      expect(r.status).toBe(202);
      const got = await hook.next;
      expect(got.status).toBe(202);
      expect(Buffer.from(got.body).toString()).toBe("done");
      expect(got.headers).toContainEqual(["x-direct", "1"]);
      expect(got.headers).toContainEqual(["content-type", "text/plain"]);
      if (Array.isArray(head)) {
        expect(got.headers.filter(([n]) => n === "set-cookie")).toEqual([
          ["set-cookie", "a=1"],
          ["set-cookie", "b=2"],
        ]);
      }
    }
  });

  it("captures string chunks in their encoding and streams them unchanged", async () => {
    const hook = captured();
    const url = await serve(
      protect(() => ({ action: "continue", onResponse: hook.hook }))((_req, res) => {
        res.write("aGVsbG8g", "base64");
        res.write("wörld ");
        res.end(new Uint8Array([0xe2, 0x9c, 0x93]));
      }),
    );
    const r = await send(url, "/");
    expect(r.body.toString()).toBe("hello wörld ✓");
    expect(Buffer.from((await hook.next).body).toString()).toBe("hello wörld ✓");
  });

  it("nested protect wrappers merge locals and deliver each hook once", async () => {
    const outer = captured();
    const inner = captured();
    const url = await serve(
      protect(() => ({ action: "continue", locals: { a: 1 }, onResponse: outer.hook }))(
        protect(() => ({ action: "continue", locals: { b: 2 }, onResponse: inner.hook }))((req, res) => {
          res.end(JSON.stringify(bulwarkLocals(req)));
        }),
      ),
    );
    const r = await send(url, "/");
    expect(JSON.parse(r.body.toString())).toEqual({ a: 1, b: 2 });
    await Promise.all([outer.next, inner.next]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(outer.all).toHaveLength(1);
    expect(inner.all).toHaveLength(1);
  });

  it("gives an empty locals object and no raw body when no guard set them", async () => {
    const url = await serve(
      protect(() => CONTINUE)((req, res) => {
        res.end(JSON.stringify({ locals: bulwarkLocals(req), raw: rawBodyOf(req) === undefined }));
      }),
    );
    expect(JSON.parse((await send(url, "/")).body.toString())).toEqual({ locals: {}, raw: true });
  });

  it("answers 500 and logs ERR_BODY_UNAVAILABLE when the body was consumed before the guard", async () => {
    const logger = memoryLogger();
    const listener = protect({ logger }, async (view) => {
      await view.rawBody!(1024);
      return CONTINUE;
    })((_req, res) => res.end("handled"));
    const url = await serve((req, res) => {
      req.resume();
      req.on("end", () => listener(req, res));
    });
    const r = await send(url, "/", { method: "POST", body: new Uint8Array([1, 2, 3]) });
    expect(r.status).toBe(500);
    expect(logger.entries).toMatchObject([{ code: "ERR_INTERNAL", error: { code: "ERR_BODY_UNAVAILABLE" } }]);
  });

  it("reuses a raw body an earlier layer kept as req.rawBody", async () => {
    const seen: number[] = [];
    const listener = protect(async (view) => {
      seen.push((await view.rawBody!(1024)).length);
      return CONTINUE;
    })((_req, res) => res.end("ok"));
    const url = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        (req as { rawBody?: Buffer }).rawBody = Buffer.concat(chunks);
        listener(req, res);
      });
    });
    expect((await send(url, "/", { method: "POST", body: new Uint8Array(5) })).status).toBe(200);
    expect(seen).toEqual([5]);
  });

  it("answers 413 to a 4 MiB chunked upload against a 1 MiB limit and closes the connection", async () => {
    let handled = 0;
    const url = await serve(
      protect(async (view) => {
        await view.rawBody!(1024 * 1024);
        return CONTINUE;
      })((_req, res) => {
        handled++;
        res.end();
      }),
    );
    // The server stops reading once over the limit and pauses the socket; the client gets the 413.
    const r = await send(url, "/", {
      method: "POST",
      body: new Uint8Array(4 * 1024 * 1024),
      chunkBytes: 64 * 1024,
    });
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe("close");
    expect(handled).toBe(0);
  });

  it("answers 413 to a declared 4 MiB Content-Length without reading the body", async () => {
    let handled = 0;
    const url = await serve(
      protect(async (view) => {
        await view.rawBody!(1024 * 1024);
        return CONTINUE;
      })((_req, res) => {
        handled++;
        res.end();
      }),
    );
    const r = await send(url, "/", { method: "POST", body: new Uint8Array(4 * 1024 * 1024) });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: "ERR_BODY_TOO_LARGE" });
    expect(handled).toBe(0);
  });

  it("does not touch the response when every guard continues with nothing", async () => {
    const guard: Guard = () => CONTINUE;
    const url = await serve(
      protect(guard)((_req, res) => {
        res.end("plain");
      }),
    );
    const r = await send(url, "/");
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe("plain");
    expect(Object.keys(r.headers).sort()).toEqual(["connection", "content-length", "date"]);
  });

  it("runs the handler in the same tick when every guard answers synchronously", async () => {
    const limiter = rateLimit({
      store: memoryStore(),
      limits: [{ name: "minute", algorithm: "fixed-window", limit: 10, windowMs: 60_000 }],
    });
    const order: string[] = [];
    const listener = protect(
      secureHeaders(),
      cors({ origins: ["https://app.example.com"], credentials: true }),
      rateLimitGuard(limiter, { logger: memoryLogger() }),
    )((req, res) => {
      order.push("handler");
      res.end(String(String(bulwarkLocals(req).cspNonce).length));
    });
    const url = await serve((req, res) => {
      listener(req, res);
      order.push("listener returned");
    });
    const r = await send(url, "/", { headers: { origin: "https://app.example.com" } });
    expect(order).toEqual(["handler", "listener returned"]);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe("24");
    expect(r.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    expect(r.headers.vary).toBe("Origin");
    expect(r.headers.ratelimit).toMatch(/^"minute";r=9;t=\d+$/);
    expect(r.headers["content-security-policy"]).toContain("'nonce-");
  });
});
