// Quickstart: secure headers on every response and a rate limit on bookings, with plain node:http.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { secureHeaders } from "bulwark/headers";
import { bulwarkLocals, protect } from "bulwark/node";
import { rateLimit, rateLimitGuard } from "bulwark/ratelimit";

// 3 bookings per minute per client IP (memory store; pass `store: redisStore(…)` for several servers).
const bookings = rateLimit({
  limits: [{ name: "bookings", algorithm: "sliding-window", limit: 3, windowMs: 60_000 }],
});
const headers = secureHeaders();
const limited = rateLimitGuard(bookings, { skip: (request) => request.path !== "/bookings" });

const server = createServer(
  protect(
    headers,
    limited,
  )((req, res) => {
    if (req.method !== "POST" || req.url !== "/bookings") {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.statusCode = 201;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ booked: true, nonce: typeof bulwarkLocals(req).cspNonce }));
  }),
);

server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
