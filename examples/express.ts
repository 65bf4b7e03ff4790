// Quickstart: secure headers on every response and a rate limit on bookings, with Express 5.
import type { AddressInfo } from "node:net";
import { protect } from "bulwark/express";
import { secureHeaders } from "bulwark/headers";
import { rateLimit, rateLimitGuard } from "bulwark/ratelimit";
import express from "express";

// 3 bookings per minute per client IP (memory store; pass `store: redisStore(…)` for several servers).
const bookings = rateLimit({
  limits: [{ name: "bookings", algorithm: "sliding-window", limit: 3, windowMs: 60_000 }],
});

const app = express();
app.use(protect(secureHeaders())); // first, so every route, 404 and error page is covered
app.post("/bookings", protect(rateLimitGuard(bookings)), (_req, res) => {
  res.status(201).json({ booked: true, nonce: typeof res.locals.bulwark?.cspNonce });
});

const server = app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
