/**
 * A small node:http server for the graceful-shutdown process test: `/slow?ms=N` answers 200 after N ms,
 * `/fast` answers at once, `/livez` and `/readyz` come from `health()`. Prints one JSON line per event
 * on stdout (`listening`, `request`, `hook`, `log`).
 */
import { createServer } from "node:http";
import { viewFromParts } from "../core/request.js";
import { health } from "./health.js";
import { gracefulShutdown } from "./shutdown.js";

const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
const deadlineMs = Number(process.env.DEADLINE_MS ?? 8_000);
const readinessDelayMs = Number(process.env.READINESS_DELAY_MS ?? 500);

const probes = health({ cacheMs: 0 });
const server = createServer((req, res) => {
  const view = viewFromParts({ method: req.method ?? "GET", url: req.url ?? "/" });
  void Promise.resolve(probes.guard(view)).then((outcome) => {
    if (outcome.action === "respond") {
      res.writeHead(outcome.status, Object.fromEntries(outcome.headers));
      res.end(outcome.body);
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/slow") {
      say({ event: "request", path: "/slow" });
      setTimeout(() => res.end("done"), Number(url.searchParams.get("ms") ?? 1_000));
    } else {
      res.end("fast");
    }
  });
});

const logger = {
  debug: () => {},
  info: () => {},
  warn: (obj: Record<string, unknown>, msg?: string) => say({ event: "log", msg, ...obj }),
  error: (obj: Record<string, unknown>, msg?: string) => say({ event: "log", msg, ...obj }),
};

gracefulShutdown(server, {
  logger,
  deadlineMs,
  readinessDelayMs,
  health: probes,
  hooks: [
    { name: "pool", run: () => say({ event: "hook", name: "pool" }) },
    { name: "redis", run: async () => say({ event: "hook", name: "redis" }) },
  ],
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  say({ event: "listening", port: typeof address === "object" && address !== null ? address.port : 0 });
});
