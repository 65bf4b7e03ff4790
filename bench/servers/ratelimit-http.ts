/**
 * Servers of the "ratelimit-http" bench (run as forked children by bench/ratelimit-http.bench.ts,
 * `node` or `express` group per process): bare node:http, node:http + bulwark's rate-limit guard, Express + bulwark, Express +
 * express-rate-limit. Every limiter enforces the same fixed window (one minute, a limit no run
 * reaches, keyed by client IP), so each request runs the admission path and gets draft-8 headers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import express from "express";
import { rateLimit as expressRateLimit } from "express-rate-limit";
import { protect as expressProtect } from "../../src/adapters/express/index.js";
import { protect as nodeProtect } from "../../src/adapters/node/index.js";
import { rateLimit, rateLimitGuard } from "../../src/ratelimit/index.js";
import { memoryStore } from "../../src/stores/memory/index.js";
import { serveForParent } from "./child.js";

/** High enough that no run is ever refused, so the benchmark measures the admission path. */
const LIMIT = 1_000_000_000;
const WINDOW_MS = 60_000;
const BODY = JSON.stringify({ ok: true });

function bulwarkGuard() {
  const limiter = rateLimit({
    store: memoryStore(),
    limits: [{ name: "minute", algorithm: "fixed-window", limit: LIMIT, windowMs: WINDOW_MS }],
  });
  return rateLimitGuard(limiter);
}

const nodeHandler = (_req: IncomingMessage, res: ServerResponse) => {
  res.setHeader("content-type", "application/json");
  res.end(BODY);
};

function expressApp(limiter: express.RequestHandler) {
  const app = express();
  app.use(limiter);
  app.get("/", (_req, res) => {
    res.type("application/json").send(BODY);
  });
  return createServer(app);
}

// One framework per process, as in production: bulwark's adapter code shared by node:http and Express
// in one process would see both request shapes and run slower than in either application.
const group = process.argv[2];
if (group === "node") {
  serveForParent({
    "node-bare": createServer(nodeHandler),
    "node-bulwark": createServer(nodeProtect(bulwarkGuard())(nodeHandler)),
  });
} else if (group === "express") {
  serveForParent({
    "express-bulwark": expressApp(expressProtect(bulwarkGuard())),
    "express-erl": expressApp(
      expressRateLimit({
        windowMs: WINDOW_MS,
        limit: LIMIT,
        identifier: "minute",
        standardHeaders: "draft-8",
        legacyHeaders: false,
      }),
    ),
  });
} else throw new Error(`unknown server group ${group}; expected node or express`);
