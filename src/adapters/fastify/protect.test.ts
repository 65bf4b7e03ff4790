import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { send } from "../../../test/adapters/harness.js";
import { CONTINUE, type Guard } from "../../core/outcome.js";
import { protect, rawBodyOf } from "./index.js";

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

async function serve(app: FastifyInstance): Promise<string> {
  apps.push(app);
  await app.listen({ port: 0, host: "127.0.0.1" });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

const tagged: Guard = () => ({ action: "continue", headers: [["x-guard", "1"]] });
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("fastify protect", () => {
  it("gives the route its parsed body and the exact raw bytes after a guard read them", async () => {
    const seen: string[] = [];
    const app = Fastify();
    await app.register(
      protect(async (view) => {
        seen.push(Buffer.from(await view.rawBody!(1024)).toString());
        return CONTINUE;
      }),
    );
    app.post("/hook", async (request) => ({
      parsed: request.body,
      raw: Buffer.from(rawBodyOf(request)!).toString(),
    }));
    const url = await serve(app);
    const payload = '{ "id" : "evt_1",\n "amount": 1200 }';
    const r = await send(url, "/hook", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new TextEncoder().encode(payload),
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({ parsed: { id: "evt_1", amount: 1200 }, raw: payload });
    expect(seen).toEqual([payload]);
  });

  it("leaves body parsing alone when no guard read the body", async () => {
    const app = Fastify();
    await app.register(protect(tagged));
    app.post("/", async (request) => ({ parsed: request.body, raw: rawBodyOf(request) ?? null }));
    const url = await serve(app);
    const r = await send(url, "/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: json({ a: 1 }),
    });
    expect(JSON.parse(r.body.toString())).toEqual({ parsed: { a: 1 }, raw: null });
  });

  it("covers routes in encapsulated plugins, the custom 404 and the custom error handler", async () => {
    const app = Fastify();
    await app.register(protect(tagged));
    app.setNotFoundHandler((_request, reply) => reply.code(404).send({ missing: true }));
    app.setErrorHandler((_error, _request, reply) => reply.code(503).send({ down: true }));
    await app.register(async (child) => {
      child.get("/inner", async () => ({ inner: true }));
      child.get("/fail", async () => {
        throw new Error("nope");
      });
    });
    const url = await serve(app);
    for (const [path, status] of [
      ["/inner", 200],
      ["/nowhere", 404],
      ["/fail", 503],
    ] as const) {
      const r = await send(url, path);
      expect(r.status).toBe(status);
      expect(r.headers["x-guard"]).toBe("1");
    }
  });

  it("can be registered twice: locals merge into one request.bulwark", async () => {
    const app = Fastify();
    await app.register(protect(() => ({ action: "continue", locals: { a: 1 } })));
    await app.register(protect(() => ({ action: "continue", locals: { b: 2 } })));
    app.get("/", async (request) => request.bulwark);
    const url = await serve(app);
    expect(JSON.parse((await send(url, "/")).body.toString())).toEqual({ a: 1, b: 2 });
  });

  it("reads the body once when two registrations both ask for it", async () => {
    const lengths: number[] = [];
    const reader: Guard = async (view) => {
      lengths.push((await view.rawBody!(1024)).length);
      return CONTINUE;
    };
    const app = Fastify();
    await app.register(protect(reader));
    await app.register(protect(reader));
    app.post("/", async (request) => request.body);
    const url = await serve(app);
    const r = await send(url, "/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: json({ a: 1 }),
    });
    expect(JSON.parse(r.body.toString())).toEqual({ a: 1 });
    expect(lengths).toEqual([7, 7]);
  });

  it("logs a throwing guard through request.log by default", async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const app = Fastify({ logger: { level: "error", stream } });
    await app.register(
      protect(() => {
        throw new Error("guard bug");
      }),
    );
    app.get("/", async () => "ok");
    const url = await serve(app);
    const r = await send(url, "/");
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: "ERR_INTERNAL" });
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(
      logged.some(
        (l) => l.code === "ERR_INTERNAL" && (l.error as { message: string }).message === "guard bug",
      ),
    ).toBe(true);
  });

  it("keeps a respond outcome's content type exactly (no charset appended)", async () => {
    const app = Fastify();
    await app.register(
      protect(() => ({
        action: "respond",
        status: 403,
        headers: [["content-type", "application/problem+json"]],
        body: '{"code":"X"}',
      })),
    );
    app.get("/", async () => "ok");
    const url = await serve(app);
    const r = await send(url, "/");
    expect(r.status).toBe(403);
    expect(r.headers["content-type"]).toBe("application/problem+json");
    expect(r.body.toString()).toBe('{"code":"X"}');
  });
});
