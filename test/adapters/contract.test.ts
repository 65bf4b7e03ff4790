import { afterEach, describe, expect, it } from "vitest";
import type { GuardsOrOptions } from "../../src/adapters/chain.js";
import { memoryLogger } from "../../src/core/logger.js";
import type { CapturedResponse, Guard } from "../../src/core/outcome.js";
import { CONTINUE } from "../../src/core/outcome.js";
import { problem } from "../../src/core/problem.js";
import type { RequestView } from "../../src/core/request.js";
import { HARNESSES, type Harness, type Running, SECRET, send } from "./harness.js";

/**
 * The adapter contract: every adapter runs the same cases on a real loopback server.
 * Cases an adapter structurally cannot support are listed in its harness flags (Next.js middleware
 * never sees the route's response; a Next.js route handler is not involved in a 404).
 */

const INTERNAL_BODY = JSON.stringify({
  type: "https://bulwark.dev/errors/ERR_INTERNAL",
  title: "Internal Server Error",
  status: 500,
  code: "ERR_INTERNAL",
});

const tagged: Guard = () => ({ action: "continue", headers: [["x-guard", "1"]] });

/** Every byte value, plus bytes that are not valid UTF-8 and a CRLF: survives no text decoding. */
const BINARY = new Uint8Array([...Array.from({ length: 256 }, (_, i) => i), 0xc3, 0x28, 0xff, 0xfe, 13, 10]);

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function header(list: CapturedResponse["headers"], name: string): string[] {
  return list.filter(([n]) => n === name).map(([, v]) => v);
}

/** Registers a case only where the adapter can support it (no skipped placeholders). */
const itIf = (condition: boolean) => (condition ? it : () => {});

describe.each(HARNESSES.map((h) => [h.name, h] as const))(
  "%s adapter contract",
  (_name, harness: Harness) => {
    let running: Running | undefined;
    const start = async (...args: GuardsOrOptions) => {
      running = await harness.start(args);
      return running;
    };
    afterEach(async () => {
      await running?.close();
      running = undefined;
    });

    it("a continue outcome sets its headers: repeated set-cookie lines, values with commas", async () => {
      const app = await start(() => ({
        action: "continue",
        headers: [
          ["x-a", "1"],
          ["set-cookie", "a=1; Path=/; HttpOnly"],
          ["set-cookie", "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT"],
          ["x-list", "a, b,c"],
        ],
      }));
      const r = await send(app.url, "/ok");
      expect(r.status).toBe(200);
      expect(r.headers["x-a"]).toBe("1");
      expect(r.headers["x-list"]).toBe("a, b,c");
      expect(r.headers["set-cookie"]).toEqual([
        "a=1; Path=/; HttpOnly",
        "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
      ]);
      expect(r.headers["x-app"]).toBe("1");
      expect(app.handled()).toBe(1);
    });

    it("a respond outcome answers 429 with its exact status, headers and body; the handler does not run", async () => {
      const limited = problem(429, "ERR_RATELIMIT_EXCEEDED", "Too Many Requests", [
        ["retry-after", "7"],
        ["ratelimit", '"burst";r=0;t=7'],
        ["ratelimit-policy", '"burst";q=2;w=1'],
      ]);
      const app = await start(() => limited);
      const r = await send(app.url, "/ok");
      expect(r.status).toBe(429);
      expect(r.headers["content-type"]).toBe("application/problem+json");
      expect(r.headers["cache-control"]).toBe("no-store");
      expect(r.headers["retry-after"]).toBe("7");
      expect(r.headers.ratelimit).toBe('"burst";r=0;t=7');
      expect(r.headers["ratelimit-policy"]).toBe('"burst";q=2;w=1');
      expect(r.body.toString("utf8")).toBe(limited.body);
      expect(app.handled()).toBe(0);
    });

    it("locals from several guards are merged into one object the handler sees", async () => {
      const app = await start(
        () => ({ action: "continue", locals: { cspNonce: "n0nce" } }),
        () => CONTINUE,
        async () => ({ action: "continue", locals: { csrfToken: "t0ken" } }),
      );
      const r = await send(app.url, "/ok");
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body.toString("utf8"))).toEqual({
        locals: { cspNonce: "n0nce", csrfToken: "t0ken" },
      });
    });

    it("headers are on the framework's 404 and on the 500 of a throwing handler", async () => {
      const app = await start({ logger: memoryLogger() }, tagged);
      if (harness.notFound) {
        const missing = await send(app.url, "/missing");
        expect(missing.status).toBe(404);
        expect(missing.headers["x-guard"]).toBe("1");
      }
      const boom = await send(app.url, "/boom");
      expect(boom.status).toBe(500);
      expect(boom.headers["x-guard"]).toBe("1");
      expect(app.handled()).toBe(1);
    });

    it("a HEAD request passes the guards and gets their headers without a body", async () => {
      const seen: string[] = [];
      const app = await start((view) => {
        seen.push(view.method);
        return { action: "continue", headers: [["x-guard", "1"]] };
      });
      const r = await send(app.url, "/ok", { method: "HEAD" });
      expect(r.status).toBe(200);
      expect(r.headers["x-guard"]).toBe("1");
      expect(r.body.length).toBe(0);
      expect(seen).toEqual(["HEAD"]);
    });

    it("the view reads method, target, repeated headers, peer address and protocol without copying", async () => {
      const views: Array<Record<string, unknown>> = [];
      const app = await start((view: RequestView) => {
        views.push({
          method: view.method,
          url: view.url,
          path: view.path,
          accept: view.header("accept"),
          upper: view.header("X-Custom"),
          missing: view.header("x-missing"),
          remoteAddress: view.remoteAddress,
          protocol: view.protocol,
        });
        return CONTINUE;
      });
      await send(app.url, "/ok?q=%E2%9C%93&next=%2Fcaf%C3%A9", {
        headers: { accept: "text/html, application/json", "x-custom": "v", "x-forwarded-proto": "https" },
      });
      expect(views).toEqual([
        {
          method: "GET",
          url: "/ok?q=%E2%9C%93&next=%2Fcaf%C3%A9",
          path: "/ok",
          accept: "text/html, application/json",
          upper: "v",
          missing: undefined,
          remoteAddress: harness.remoteAddress,
          protocol: "http",
        },
      ]);
      if (harness.notFound) {
        const r = await send(app.url, "/caf%C3%A9/%E2%9C%93?q=1");
        expect(r.status).toBe(404);
        expect(views[1]).toMatchObject({ url: "/caf%C3%A9/%E2%9C%93?q=1", path: "/caf%C3%A9/%E2%9C%93" });
      }
    });

    it("rawBody gives the exact bytes of a binary body, and the application still receives them", async () => {
      const read: Uint8Array[] = [];
      const app = await start(async (view) => {
        read.push(await view.rawBody!(1024));
        return CONTINUE;
      });
      for (const chunkBytes of [undefined, 7]) {
        const r = await send(app.url, "/echo", {
          method: "POST",
          headers: { "content-type": "application/octet-stream" },
          body: BINARY,
          ...(chunkBytes === undefined ? {} : { chunkBytes }),
        });
        expect(r.status).toBe(200);
        expect(new Uint8Array(r.body)).toEqual(BINARY);
      }
      expect(read.map((b) => Buffer.from(b).equals(Buffer.from(BINARY)))).toEqual([true, true]);
    });

    it("a body over maxBytes answers 413 ERR_BODY_TOO_LARGE, by Content-Length and when chunked", async () => {
      const app = await start(tagged, async (view) => {
        await view.rawBody!(16);
        return CONTINUE;
      });
      const body = new Uint8Array(64).fill(65);
      for (const chunkBytes of [undefined, 8]) {
        const r = await send(app.url, "/echo", {
          method: "POST",
          headers: { "content-type": "application/octet-stream" },
          body,
          ...(chunkBytes === undefined ? {} : { chunkBytes }),
        });
        expect(r.status).toBe(413);
        expect(r.headers["content-type"]).toBe("application/problem+json");
        expect(r.headers["x-guard"]).toBe("1");
        expect(JSON.parse(r.body.toString("utf8"))).toMatchObject({
          status: 413,
          code: "ERR_BODY_TOO_LARGE",
        });
      }
      expect(app.handled()).toBe(0);
    });

    it("a body within maxBytes passes, and a second rawBody call reuses the same bytes", async () => {
      const lengths: number[] = [];
      const app = await start(
        async (view) => {
          lengths.push((await view.rawBody!(64)).length);
          return CONTINUE;
        },
        async (view) => {
          lengths.push((await view.rawBody!(1024)).length);
          return CONTINUE;
        },
      );
      const r = await send(app.url, "/echo", {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body: new Uint8Array(64).fill(66),
      });
      expect(r.status).toBe(200);
      expect(r.body.length).toBe(64);
      expect(lengths).toEqual([64, 64]);
    });

    it("a guard that throws answers 500 ERR_INTERNAL without leaking, logs it and tells onError", async () => {
      const logger = memoryLogger();
      const errors: unknown[] = [];
      const app = await start({ logger, onError: (error) => errors.push(error) }, tagged, () => {
        throw new Error(SECRET);
      });
      const r = await send(app.url, "/ok");
      expect(r.status).toBe(500);
      expect(r.headers["content-type"]).toBe("application/problem+json");
      expect(r.headers["x-guard"]).toBe("1");
      expect(r.body.toString("utf8")).toBe(INTERNAL_BODY);
      expect(r.body.toString("utf8")).not.toContain("secret");
      expect(app.handled()).toBe(0);
      expect(errors).toHaveLength(1);
      expect((errors[0] as Error).message).toBe(SECRET);
      expect(logger.entries.filter((e) => e.level === "error" && e.code === "ERR_INTERNAL")).toHaveLength(1);
    });

    it("an async guard that rejects, or returns something that is not an Outcome, answers 500", async () => {
      const app = await start(
        { logger: memoryLogger() },
        async (view) => {
          if (view.path === "/ok") throw new Error(SECRET);
          return CONTINUE;
        },
        () => null as never,
      );
      for (const path of ["/ok", "/stream"]) {
        const r = await send(app.url, path);
        expect(r.status).toBe(500);
        expect(r.body.toString("utf8")).toBe(INTERNAL_BODY);
      }
      expect(app.handled()).toBe(0);
    });

    it("guards run in order and the first respond outcome ends the chain", async () => {
      const order: string[] = [];
      const app = await start(
        () => {
          order.push("a");
          return { action: "continue", headers: [["x-first", "a"]] };
        },
        async () => {
          order.push("b");
          return problem(403, "ERR_CSRF_ORIGIN_MISMATCH", "Forbidden");
        },
        () => {
          order.push("c");
          return CONTINUE;
        },
      );
      const r = await send(app.url, "/ok");
      expect(r.status).toBe(403);
      expect(r.headers["x-first"]).toBe("a");
      expect(order).toEqual(["a", "b"]);
      expect(app.handled()).toBe(0);
    });

    it("a later header value replaces an earlier one; a respond outcome's headers win", async () => {
      const app = await start(
        () => ({
          action: "continue",
          headers: [
            ["x-v", "1"],
            ["cache-control", "public"],
          ],
        }),
        () => ({ action: "continue", headers: [["x-v", "2"]] }),
        () => problem(429, "ERR_RATELIMIT_EXCEEDED", "Too Many Requests"),
      );
      const r = await send(app.url, "/ok");
      expect(r.status).toBe(429);
      expect(r.headers["x-v"]).toBe("2");
      expect(r.headers["cache-control"]).toBe("no-store");
    });

    itIf(harness.responseAccess)("removeHeaders removes X-Powered-By", async () => {
      const baseline = await start(tagged);
      expect((await send(baseline.url, "/ok")).headers["x-powered-by"]).toBeDefined();
      await baseline.close();
      running = undefined;
      const app = await start(() => ({ action: "continue", removeHeaders: ["x-powered-by"] }));
      const r = await send(app.url, "/ok");
      expect(r.status).toBe(200);
      expect(r.headers["x-powered-by"]).toBeUndefined();
    });

    itIf(harness.responseAccess)(
      "onResponse receives the final status, headers and full streamed body once",
      async () => {
        const captured: CapturedResponse[] = [];
        const done = deferred<void>();
        const app = await start(() => ({
          action: "continue",
          headers: [["x-guard", "1"]],
          onResponse: (response) => {
            captured.push(response);
            done.resolve();
          },
        }));
        const r = await send(app.url, "/stream");
        expect(r.status).toBe(201);
        expect(r.body.toString()).toBe("part1-part2");
        await done.promise;
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(captured).toHaveLength(1);
        const [response] = captured as [CapturedResponse];
        expect(response.status).toBe(201);
        expect(Buffer.from(response.body).toString()).toBe("part1-part2");
        expect(header(response.headers, "set-cookie")).toEqual(["s1=1", "s2=2"]);
        expect(header(response.headers, "x-guard")).toEqual(["1"]);
      },
    );

    itIf(harness.responseAccess)(
      "onResponse also receives a later guard's rejection, and a hook that throws is only logged",
      async () => {
        const logger = memoryLogger();
        const captured: CapturedResponse[] = [];
        const done = deferred<void>();
        const app = await start(
          { logger },
          () => ({
            action: "continue",
            onResponse: () => {
              throw new Error("hook bug");
            },
          }),
          () => ({
            action: "continue",
            onResponse: (response) => {
              captured.push(response);
              done.resolve();
            },
          }),
          () => problem(429, "ERR_RATELIMIT_EXCEEDED", "Too Many Requests", [["retry-after", "3"]]),
        );
        const r = await send(app.url, "/ok");
        expect(r.status).toBe(429);
        await done.promise;
        expect(captured[0]?.status).toBe(429);
        expect(header(captured[0]!.headers, "retry-after")).toEqual(["3"]);
        expect(JSON.parse(Buffer.from(captured[0]!.body).toString())).toMatchObject({
          code: "ERR_RATELIMIT_EXCEEDED",
        });
        expect(logger.entries.some((e) => e.level === "error" && String(e.msg).includes("onResponse"))).toBe(
          true,
        );
      },
    );

    itIf(harness.responseAccess)("onResponse of a HEAD request has an empty body", async () => {
      const done = deferred<CapturedResponse>();
      const app = await start(() => ({
        action: "continue",
        onResponse: (response) => done.resolve(response),
      }));
      const r = await send(app.url, "/ok", { method: "HEAD" });
      expect(r.status).toBe(200);
      const response = await done.promise;
      expect(response.status).toBe(200);
      expect(response.body.length).toBe(0);
    });
  },
);
