/**
 * Servers of the "http" bench (run as forked children by bench/http.bench.ts, `node` or `express`
 * group per process): the full browser-facing
 * stack — secure headers, CORS, CSRF, memory rate limit — as bulwark on node:http and on Express, the
 * same protections built from helmet + cors + csrf-csrf + express-rate-limit on Express, and bare
 * node:http. Both stacks allow one front-end origin with credentials, enforce the same fixed-window
 * limit (never reached) with draft-8 headers, and verify a session-bound CSRF token on unsafe requests.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import cookieParser from "cookie-parser";
import corsMiddleware from "cors";
import { doubleCsrf } from "csrf-csrf";
import express from "express";
import { rateLimit as expressRateLimit } from "express-rate-limit";
import helmet from "helmet";
import { protect as expressProtect } from "../../src/adapters/express/index.js";
import { protect as nodeProtect } from "../../src/adapters/node/index.js";
import type { Guard } from "../../src/core/outcome.js";
import { cors } from "../../src/cors/index.js";
import { csrf } from "../../src/csrf/index.js";
import { secureHeaders } from "../../src/headers/index.js";
import { rateLimit, rateLimitGuard } from "../../src/ratelimit/index.js";
import { memoryStore } from "../../src/stores/memory/index.js";
import { serveForParent } from "./child.js";

/** The front-end allowed to call this API (CORS allowlist and CSRF trusted origin). */
const FRONT_END = "https://app.example.com";
const LIMIT = 1_000_000_000;
const WINDOW_MS = 60_000;
const EXPOSED = ["RateLimit", "RateLimit-Policy", "Retry-After"];
const BODY = JSON.stringify({ ok: true });

/** The four bulwark guards, in the order an application mounts them. */
function bulwarkStack(): Guard[] {
  const limiter = rateLimit({
    store: memoryStore(),
    limits: [{ name: "minute", algorithm: "fixed-window", limit: LIMIT, windowMs: WINDOW_MS }],
  });
  return [
    secureHeaders(),
    cors({ origins: [FRONT_END], credentials: true }),
    rateLimitGuard(limiter),
    csrf({ secrets: [randomBytes(32).toString("base64url")], trustedOrigins: [FRONT_END] }),
  ];
}

const nodeHandler = (_req: IncomingMessage, res: ServerResponse) => {
  res.setHeader("content-type", "application/json");
  res.end(BODY);
};

function routes(app: express.Express): void {
  const answer = (_req: express.Request, res: express.Response) => {
    res.type("application/json").send(BODY);
  };
  app.get("/", answer);
  app.post("/", answer);
}

function expressBulwark() {
  const app = express();
  app.use(expressProtect(...bulwarkStack()));
  routes(app);
  return createServer(app);
}

function expressAnchors() {
  const secret = randomBytes(32).toString("base64url");
  const { doubleCsrfProtection, generateCsrfToken } = doubleCsrf({
    getSecret: () => secret,
    getSessionIdentifier: (req) => (req.cookies as Record<string, string | undefined>).sid ?? "",
  });
  const app = express();
  app.use(helmet());
  app.use(corsMiddleware({ origin: [FRONT_END], credentials: true, exposedHeaders: EXPOSED, maxAge: 600 }));
  app.use(
    expressRateLimit({
      windowMs: WINDOW_MS,
      limit: LIMIT,
      identifier: "minute",
      standardHeaders: "draft-8",
      legacyHeaders: false,
    }),
  );
  app.use(cookieParser());
  // The token endpoint also opens the anonymous session the token is bound to (as bulwark's does).
  app.get("/csrf-token", (req, res) => {
    const cookies = req.cookies as Record<string, string | undefined>;
    if (cookies.sid === undefined) {
      cookies.sid = randomBytes(18).toString("base64url");
      res.cookie("sid", cookies.sid, { httpOnly: true, secure: true, sameSite: "lax" });
    }
    res.set("cache-control", "no-store").json({ token: generateCsrfToken(req, res) });
  });
  app.use(doubleCsrfProtection);
  routes(app);
  // csrf-csrf refuses by passing an error on; answer its status without Express's stderr trace.
  app.use(
    (
      error: { status?: number },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(error.status ?? 500).end();
    },
  );
  return createServer(app);
}

/**
 * The response headers the bulwark stack adds to an allowed cross-origin GET, captured once from a
 * temporary server, so the reference server below can send the same bytes with no logic at all.
 */
async function capturedStackHeaders(): Promise<Array<[string, string]>> {
  const probe = createServer(nodeProtect(...bulwarkStack())(nodeHandler));
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(probe.address() as AddressInfo).port}/`, {
      headers: { origin: FRONT_END, accept: "application/json" },
    });
    await res.arrayBuffer();
    const skip = new Set(["date", "connection", "keep-alive", "content-length", "content-type"]);
    return [...res.headers].filter(([name]) => !skip.has(name));
  } finally {
    probe.close();
  }
}

// One framework per process, as in production: bulwark's adapter code shared by node:http and Express
// in one process would see both request shapes and run slower than in either application.
const group = process.argv[2];
if (group === "node") {
  const fixedHeaders = await capturedStackHeaders();
  /** node:http setting the stack's headers as constants: what the header bytes alone cost. */
  const nodeFixedHeaders = (_req: IncomingMessage, res: ServerResponse) => {
    for (const [name, value] of fixedHeaders) res.setHeader(name, value);
    res.setHeader("content-type", "application/json");
    res.end(BODY);
  };
  serveForParent({
    "node-bare": createServer(nodeHandler),
    "node-fixed-headers": createServer(nodeFixedHeaders),
    "node-bulwark": createServer(nodeProtect(...bulwarkStack())(nodeHandler)),
  });
} else if (group === "express") {
  serveForParent({ "express-bulwark": expressBulwark(), "express-anchors": expressAnchors() });
} else throw new Error(`unknown server group ${group}; expected node or express`);
