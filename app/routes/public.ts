import { Router } from "express";
import { protect } from "../../src/adapters/express/index.js";
import type { Guard } from "../../src/core/outcome.js";
import { jsonBody } from "../../src/hygiene/index.js";
import type { AppContext } from "../context.js";
import { createBooking, listSchools, schoolBySlug, verifyBookingEmail } from "../services/bookings.js";
import { bookingInput, INSTRUMENTS, parse, tokenInput } from "../services/input.js";
import { bodyOf, route } from "./util.js";

/** The public side: schools, the Meet & Greet booking (5 per hour per IP) and e-mail verification. */
export function publicRoutes(ctx: AppContext, guards: { bookingLimit: Guard }): Router {
  const r = Router();
  const json = jsonBody({ maxBytes: 16 * 1024 });

  r.get(
    "/api/schools",
    route(async (_req, res) => {
      const schools = await listSchools(ctx);
      res.json(
        schools.map((s) => ({
          slug: s.slug,
          name: s.name,
          feeCents: s.registration_fee_cents,
          currency: s.currency,
        })),
      );
    }),
  );

  r.get(
    "/api/schools/:slug",
    route(async (req, res) => {
      const school = await schoolBySlug(ctx, String(req.params.slug));
      res.json({
        slug: school.slug,
        name: school.name,
        feeCents: school.registration_fee_cents,
        currency: school.currency,
        instruments: INSTRUMENTS,
      });
    }),
  );

  r.post(
    "/api/schools/:slug/meet-and-greets",
    protect(guards.bookingLimit, json),
    route(async (req, res) => {
      await createBooking(ctx, String(req.params.slug), parse(bookingInput, bodyOf(res)));
      // Same answer for every address: whether the family is known is never revealed.
      res.status(202).json({ status: "received", next: "check-email" });
    }),
  );

  r.post(
    "/api/meet-and-greets/verify",
    protect(json),
    route(async (_req, res) => {
      const input = parse(tokenInput, bodyOf(res));
      await verifyBookingEmail(ctx, input.school, input.token);
      res.json({ status: "verified" });
    }),
  );

  return r;
}
