import { Router } from "express";
import type { Logger } from "pino";
import type Stripe from "stripe";
import { protect } from "../../src/adapters/express/index.js";
import { type ProcessLedger, processOnce } from "../../src/idempotency/index.js";
import { type WebhookLocals, type WebhookVerifier, webhookGuard } from "../../src/webhooks/index.js";
import type { AppContext } from "../context.js";
import { completeRegistration } from "../services/registration.js";
import { route } from "./util.js";

export const WEBHOOK_PATH = "/webhooks/stripe";

/**
 * Stripe's webhook: bulwark verifies the signature (timestamp tolerance both ways, constant-time,
 * replayed delivery ids answered 200 without reprocessing) before anything is parsed, then
 * `processOnce` runs the completion at most once per event id across processes; the completion
 * itself is one transaction that also refuses to mark a payment paid twice.
 */
export function webhookRoutes(
  ctx: AppContext,
  deps: { verifier: WebhookVerifier; ledger: ProcessLedger; log: Logger },
) {
  const r = Router();
  r.post(
    WEBHOOK_PATH,
    protect(webhookGuard(deps.verifier, { maxBytes: 256 * 1024 })),
    route(async (_req, res) => {
      const verified = res.locals.bulwark?.webhook as WebhookLocals<Stripe.Event> | undefined;
      if (!verified) throw new Error("webhook route reached without a verified event");
      const { event } = verified;
      if (event.type !== "checkout.session.completed") {
        res.json({ received: true, ignored: true });
        return;
      }
      const session = event.data.object as Stripe.Checkout.Session;
      const outcome = await processOnce(event.id, () => completeRegistration(ctx, session, event.id), {
        ledger: deps.ledger,
        leaseMs: 30_000,
        logger: deps.log,
      });
      switch (outcome.status) {
        case "processed":
        case "lease_lost":
          if (outcome.result.outcome === "ignored") {
            deps.log.warn({ eventId: event.id, reason: outcome.result.reason }, "webhook ignored");
          }
          res.json({ received: true });
          return;
        case "duplicate":
          res.json({ received: true, duplicate: true });
          return;
        case "in_progress":
          res.set("retry-after", String(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000))));
          res.status(503).json({ received: false });
          return;
        case "failed":
          // Database errors carry the statement's parameters (names, addresses, hashes): log the codes only.
          deps.log.error({ eventId: event.id, failure: errorCodes(outcome.error) }, "webhook handler failed");
          res.status(500).json({ received: false });
          return;
      }
    }),
  );
  return r;
}

function errorCodes(error: unknown): { name: string; code?: string; constraint?: string } {
  const e = (error ?? {}) as { name?: unknown; code?: unknown; constraint?: unknown };
  return {
    name: typeof e.name === "string" ? e.name : "Error",
    ...(typeof e.code === "string" ? { code: e.code } : {}),
    ...(typeof e.constraint === "string" ? { constraint: e.constraint } : {}),
  };
}
