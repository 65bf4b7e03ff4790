// Quickstart: secure headers on every response and a rate limit on bookings, with Hono 4.
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { secureHeaders } from "bulwark/headers";
import { type BulwarkEnv, protect } from "bulwark/hono";
import { rateLimit, rateLimitGuard } from "bulwark/ratelimit";
import { Hono } from "hono";

// 3 bookings per minute per client IP (memory store; pass `store: redisStore(…)` for several servers).
const bookings = rateLimit({
  limits: [{ name: "bookings", algorithm: "sliding-window", limit: 3, windowMs: 60_000 }],
});

const app = new Hono<BulwarkEnv>();
app.use(protect(secureHeaders()));
app.post("/bookings", protect(rateLimitGuard(bookings)), (c) =>
  c.json({ booked: true, nonce: typeof c.get("bulwark").cspNonce }, 201),
);

serve(
  { fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: "127.0.0.1" },
  (info: AddressInfo) => {
    console.log(`listening on http://127.0.0.1:${info.port}`);
  },
);
