import { Router } from "express";
import { protect } from "../../src/adapters/express/index.js";
import type { Guard } from "../../src/core/outcome.js";
import { jsonBody } from "../../src/hygiene/index.js";
import type { AppContext } from "../context.js";
import { parse, tokenInput } from "../services/input.js";
import { registrationSummary, startCheckout } from "../services/registration.js";
import { bodyOf, route } from "./util.js";

/**
 * The family's registration link: what is due, and the checkout (10 per minute per IP, an
 * Idempotency-Key required so a retried click replays the first answer instead of starting another
 * payment).
 */
export function registrationRoutes(
  ctx: AppContext,
  guards: { paymentLimit: Guard; checkoutIdempotency: Guard },
) {
  const r = Router();
  const json = jsonBody({ maxBytes: 4 * 1024 });

  r.post(
    "/api/registration",
    protect(json),
    route(async (_req, res) => {
      const input = parse(tokenInput, bodyOf(res));
      res.set("cache-control", "no-store").json(await registrationSummary(ctx, input.school, input.token));
    }),
  );

  r.post(
    "/api/registration/checkout",
    protect(guards.paymentLimit, guards.checkoutIdempotency, json),
    route(async (_req, res) => {
      const input = parse(tokenInput, bodyOf(res));
      res.set("cache-control", "no-store").json(await startCheckout(ctx, input.school, input.token));
    }),
  );

  return r;
}
