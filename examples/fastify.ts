// Quickstart: secure headers on every response and a rate limit on bookings, with Fastify 5.
import { protect } from "bulwark/fastify";
import { secureHeaders } from "bulwark/headers";
import { rateLimit, rateLimitGuard } from "bulwark/ratelimit";
import Fastify from "fastify";

// 3 bookings per minute per client IP (memory store; pass `store: redisStore(…)` for several servers).
const bookings = rateLimit({
  limits: [{ name: "bookings", algorithm: "sliding-window", limit: 3, windowMs: 60_000 }],
});

const app = Fastify();
await app.register(
  protect(secureHeaders(), rateLimitGuard(bookings, { skip: (request) => request.path !== "/bookings" })),
);
app.post("/bookings", async (request, reply) => {
  reply.code(201);
  return { booked: true, nonce: typeof request.bulwark.cspNonce };
});

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: "127.0.0.1" });
console.log(`listening on ${address}`);
