import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { describe, expect, it } from "vitest";
import { CONTINUE, type Guard } from "../../core/outcome.js";
import type { RequestView } from "../../core/request.js";
import { type BulwarkEnv, protect } from "./index.js";

/** These run through `app.request()`: plain WHATWG Requests, no node server (an edge-like runtime). */

const tagged: Guard = () => ({
  action: "continue",
  headers: [
    ["x-guard", "1"],
    ["set-cookie", "g=1"],
  ],
});

function streamOf(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) controller.close();
      else {
        controller.enqueue(bytes.slice(at, at + chunk));
        at += chunk;
      }
    },
  });
}

describe("hono protect", () => {
  it("builds the view from the Request when there is no node server", async () => {
    const views: Array<Record<string, unknown>> = [];
    const app = new Hono();
    app.use(
      protect((view: RequestView) => {
        views.push({
          method: view.method,
          url: view.url,
          path: view.path,
          header: view.header("X-Test"),
          remoteAddress: view.remoteAddress,
          protocol: view.protocol,
        });
        return CONTINUE;
      }),
    );
    app.get("/a/b", (c) => c.text("ok"));
    const r = await app.request("https://example.com/a/b?x=%E2%9C%93", { headers: { "x-test": "t" } });
    expect(r.status).toBe(200);
    expect(views).toEqual([
      {
        method: "GET",
        url: "/a/b?x=%E2%9C%93",
        path: "/a/b",
        header: "t",
        remoteAddress: undefined,
        protocol: "https",
      },
    ]);
  });

  it("leaves the body readable by c.req.json() and by c.req.raw after a guard read it", async () => {
    const seen: string[] = [];
    const app = new Hono();
    app.use(
      protect(async (view) => {
        seen.push(new TextDecoder().decode(await view.rawBody!(1024)));
        return CONTINUE;
      }),
    );
    app.post("/json", async (c) => c.json(await c.req.json()));
    app.post("/raw", async (c) => c.json(await c.req.raw.json()));
    for (const path of ["/json", "/raw"]) {
      const r = await app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"id":"evt_1"}',
      });
      expect(await r.json()).toEqual({ id: "evt_1" });
    }
    expect(seen).toEqual(['{"id":"evt_1"}', '{"id":"evt_1"}']);
  });

  it("answers 413 for a streamed body without Content-Length that grows past maxBytes", async () => {
    const app = new Hono();
    app.use(
      protect(async (view) => {
        await view.rawBody!(100);
        return CONTINUE;
      }),
    );
    app.post("/", (c) => c.text("handled"));
    const r = await app.request("/", {
      method: "POST",
      body: streamOf(new Uint8Array(1000), 64),
      duplex: "half",
    } as RequestInit);
    expect(r.status).toBe(413);
    expect((await r.json()) as unknown).toMatchObject({ code: "ERR_BODY_TOO_LARGE" });
  });

  it("adds guard headers to an immutable Response.redirect, keeping every cookie", async () => {
    const app = new Hono();
    app.use(protect(tagged));
    app.get("/go", () => Response.redirect("https://example.com/there", 303));
    app.get("/cookies", () => {
      const headers = new Headers();
      headers.append("set-cookie", "app=1");
      return new Response("ok", { headers });
    });
    const moved = await app.request("/go");
    expect(moved.status).toBe(303);
    expect(moved.headers.get("location")).toBe("https://example.com/there");
    expect(moved.headers.get("x-guard")).toBe("1");
    expect(moved.headers.getSetCookie()).toEqual(["g=1"]);
    const cookies = await app.request("/cookies");
    expect(cookies.headers.getSetCookie()).toEqual(["app=1", "g=1"]);
  });

  it("covers a custom notFound, a custom onError and an HTTPException", async () => {
    const app = new Hono();
    app.use(protect(tagged));
    app.notFound((c) => c.json({ missing: true }, 404));
    app.onError((err, c) => (err instanceof HTTPException ? err.getResponse() : c.json({ down: true }, 503)));
    app.get("/fail", () => {
      throw new Error("nope");
    });
    app.get("/teapot", () => {
      throw new HTTPException(418, { message: "short and stout" });
    });
    for (const [path, status] of [
      ["/nowhere", 404],
      ["/fail", 503],
      ["/teapot", 418],
    ] as const) {
      const r = await app.request(path);
      expect(r.status).toBe(status);
      expect(r.headers.get("x-guard")).toBe("1");
    }
  });

  it("lets the handler override a guard header (guard headers are defaults)", async () => {
    const app = new Hono();
    app.use(protect(() => ({ action: "continue", headers: [["cache-control", "no-store"]] })));
    app.get("/", (c) => {
      c.header("cache-control", "public, max-age=60");
      return c.text("ok");
    });
    expect((await app.request("/")).headers.get("cache-control")).toBe("public, max-age=60");
  });

  it("sets c.get('bulwark') to an empty object when no guard set locals, and merges two middlewares", async () => {
    const app = new Hono<BulwarkEnv>();
    app.use(
      "/one",
      protect(() => CONTINUE),
    );
    app.use(
      "/two",
      protect(() => ({ action: "continue", locals: { a: 1 } })),
    );
    app.use(
      "/two",
      protect(() => ({ action: "continue", locals: { b: 2 } })),
    );
    app.get("/one", (c) => c.json(c.get("bulwark")));
    app.get("/two", (c) => c.json(c.get("bulwark")));
    expect(await (await app.request("/one")).json()).toEqual({});
    expect(await (await app.request("/two")).json()).toEqual({ a: 1, b: 2 });
  });

  it("drops the body of a 204 respond outcome instead of failing", async () => {
    const app = new Hono();
    app.use(
      protect(() => ({ action: "respond", status: 204, headers: [["x-preflight", "ok"]], body: "ignored" })),
    );
    app.get("/", (c) => c.text("handler"));
    const r = await app.request("/", { method: "OPTIONS" });
    expect(r.status).toBe(204);
    expect(r.headers.get("x-preflight")).toBe("ok");
    expect(await r.text()).toBe("");
  });
});
