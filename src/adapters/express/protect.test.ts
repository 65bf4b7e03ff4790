import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express } from "express";
import { afterEach, describe, expect, it } from "vitest";
import { send } from "../../../test/adapters/harness.js";
import { memoryLogger } from "../../core/logger.js";
import { CONTINUE, type Guard } from "../../core/outcome.js";
import { protect, rawBodyOf } from "./index.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

async function serve(app: Express): Promise<string> {
  const server = createServer(app);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const readsBody: Guard = async (view) => {
  await view.rawBody!(1024);
  return CONTINUE;
};
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("express protect", () => {
  it("lets express.json() mounted after it skip the read body instead of waiting for it", async () => {
    const app = express();
    app.use(protect(readsBody));
    app.use(express.json());
    app.post("/hook", (req, res) => {
      const raw = rawBodyOf(req)!;
      res.json({ parsedByExpress: req.body ?? null, raw: JSON.parse(Buffer.from(raw).toString()) });
    });
    const url = await serve(app);
    const r = await send(url, "/hook", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: json({ id: "evt_1" }),
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({ parsedByExpress: null, raw: { id: "evt_1" } });
  });

  it("reuses the bytes express.json({ verify }) kept as req.rawBody when it ran first", async () => {
    const app = express();
    app.use(
      express.json({
        verify: (req, _res, buf) => {
          (req as { rawBody?: Buffer }).rawBody = buf;
        },
      }),
    );
    const seen: string[] = [];
    app.use(
      protect(async (view) => {
        seen.push(Buffer.from(await view.rawBody!(1024)).toString());
        return CONTINUE;
      }),
    );
    app.post("/hook", (req, res) => {
      res.json(req.body);
    });
    const url = await serve(app);
    const r = await send(url, "/hook", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: json({ a: 1 }),
    });
    expect(JSON.parse(r.body.toString())).toEqual({ a: 1 });
    expect(seen).toEqual(['{"a":1}']);
  });

  it("answers 500 and logs ERR_BODY_UNAVAILABLE when a body parser consumed the body first", async () => {
    const logger = memoryLogger();
    const app = express();
    app.use(express.json());
    app.use(protect({ logger }, readsBody));
    app.post("/hook", (_req, res) => {
      res.send("handled");
    });
    const url = await serve(app);
    const r = await send(url, "/hook", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: json({ a: 1 }),
    });
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body.toString())).toMatchObject({ code: "ERR_INTERNAL" });
    expect(logger.entries).toMatchObject([{ code: "ERR_INTERNAL", error: { code: "ERR_BODY_UNAVAILABLE" } }]);
  });

  it("shows guards the target as received under a mount path", async () => {
    const seen: string[] = [];
    const app = express();
    app.use(
      "/api",
      protect((view) => {
        seen.push(`${view.url} ${view.path}`);
        return CONTINUE;
      }),
    );
    app.get("/api/items", (_req, res) => {
      res.send("ok");
    });
    const url = await serve(app);
    expect((await send(url, "/api/items?page=2")).status).toBe(200);
    expect(seen).toEqual(["/api/items?page=2 /api/items"]);
  });

  it("keeps guard headers on a custom error handler's response and on res.redirect", async () => {
    const app = express();
    app.use(protect(() => ({ action: "continue", headers: [["x-guard", "1"]] })));
    app.get("/fail", (_req, _res, next) => next(new Error("nope")));
    app.get("/go", (_req, res) => res.redirect("/there"));
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(502).json({ error: "upstream" });
    });
    const url = await serve(app);
    const failed = await send(url, "/fail");
    expect(failed.status).toBe(502);
    expect(failed.headers["x-guard"]).toBe("1");
    const moved = await send(url, "/go");
    expect(moved.status).toBe(302);
    expect(moved.headers["x-guard"]).toBe("1");
  });

  it("lets the route override a guard header (guard headers are defaults)", async () => {
    const app = express();
    app.use(protect(() => ({ action: "continue", headers: [["cache-control", "no-store"]] })));
    app.get("/public", (_req, res) => {
      res.set("cache-control", "public, max-age=60").send("ok");
    });
    const url = await serve(app);
    expect((await send(url, "/public")).headers["cache-control"]).toBe("public, max-age=60");
  });

  it("sets res.locals.bulwark to an empty object when no guard set locals", async () => {
    const app = express();
    app.use(protect(() => CONTINUE));
    app.get("/", (_req, res) => {
      res.json(res.locals.bulwark);
    });
    const url = await serve(app);
    expect(JSON.parse((await send(url, "/")).body.toString())).toEqual({});
  });
});
