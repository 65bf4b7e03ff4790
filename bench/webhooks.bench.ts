/**
 * Webhook verification throughput, parsed event included, on a 1.6 KB Stripe-shaped payload:
 * bulwark vs stripe-node's `constructEvent`, bulwark vs standardwebhooks' `verify`, and bulwark vs
 * the physical limit — a bare loop of one HMAC-SHA256 plus one JSON.parse over the same bytes.
 * Replay protection is off in every subject (none of the anchors has it), so like is compared with like.
 */
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";
import { silentLogger } from "../src/core/logger.js";
import {
  generateWebhookSecret,
  signStripeWebhook,
  signWebhook,
  webhookVerifier,
} from "../src/webhooks/index.js";
import { type BenchRow, type BenchSuite, compare } from "./lib.js";

const TARGET_BYTES = 1600;

/** A checkout.session.completed event padded to ~1.6 KB with realistic metadata. */
function payload(): Buffer {
  const event = {
    id: "evt_1QsA7xKcPaymentCompletedBench",
    object: "event",
    api_version: "2025-01-27.acacia",
    created: 1767225600,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: "8e03978e-40d5-43e8-bc93-6894a57f9324" },
    type: "checkout.session.completed",
    data: {
      object: {
        id: "cs_test_a1b2c3d4e5f6g7h8i9j0",
        object: "checkout.session",
        amount_subtotal: 250000,
        amount_total: 250000,
        currency: "eur",
        customer: "cus_Rk2sYpW8mQ1xZa",
        customer_details: {
          email: "student@example.edu",
          name: "Ada Lovelace",
          address: { country: "DE", city: "Berlin" },
        },
        metadata: { course: "semester-abroad-2026", campus: "lisbon", enrolment: "enr_48213", note: "" },
        mode: "payment",
        payment_intent: "pi_3QsA7xKcPaymentIntent",
        payment_status: "paid",
        status: "complete",
        success_url: "https://school.example/checkout/success?session_id={CHECKOUT_SESSION_ID}",
        cancel_url: "https://school.example/checkout/cancel",
        line_items: [
          { price: "price_1Semester", quantity: 1, amount_total: 240000 },
          { price: "price_1Insurance", quantity: 1, amount_total: 10000 },
        ],
        payment_intent_data: { application_fee_amount: 12500, transfer_data: { destination: "acct_1Music" } },
      },
    },
  };
  const base = JSON.stringify(event);
  event.data.object.metadata.note = "x".repeat(Math.max(0, TARGET_BYTES - base.length));
  return Buffer.from(JSON.stringify(event));
}

export const suite: BenchSuite = {
  name: "webhooks",
  async run({ quick }) {
    const body = payload();
    const options = quick ? { rounds: 1, ms: 150 } : { rounds: 7, ms: 700 };
    const perBatch = 100;

    const stripeSecret = "whsec_bench_0123456789abcdefghijklmnop";
    const stripe = new Stripe("sk_test_bench");
    const stripeHeader = (await signStripeWebhook({ body, secrets: stripeSecret }))["stripe-signature"];
    const t = stripeHeader.slice(2, stripeHeader.indexOf(","));
    const stripeVerifier = webhookVerifier({
      provider: "stripe",
      secrets: [stripeSecret],
      dangerouslyDisableReplayProtection: true,
      logger: silentLogger,
    });
    const stripeHeaders = { "stripe-signature": stripeHeader };

    const swSecret = generateWebhookSecret();
    const swHeaders = await signWebhook({ id: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", body, secrets: swSecret });
    const wh = new Webhook(swSecret);
    const swVerifier = webhookVerifier({
      provider: "standard-webhooks",
      secrets: [swSecret],
      dangerouslyDisableReplayProtection: true,
      logger: silentLogger,
    });

    // Every subject must succeed before it is timed.
    const check = await stripeVerifier.verify({ headers: stripeHeaders, rawBody: body });
    if (!check.ok || stripe.webhooks.constructEvent(body, stripeHeader, stripeSecret).id !== check.id) {
      throw new Error("webhooks bench: the Stripe subjects disagree");
    }
    if (
      !(await swVerifier.verify({ headers: swHeaders, rawBody: body })).ok ||
      !wh.verify(body, { ...swHeaders })
    ) {
      throw new Error("webhooks bench: the Standard Webhooks subjects disagree");
    }

    let sink = 0;
    const results = await compare(
      {
        "bulwark stripe": {
          opsPerBatch: perBatch,
          batch: async () => {
            for (let i = 0; i < perBatch; i++) {
              const r = await stripeVerifier.verify({ headers: stripeHeaders, rawBody: body });
              if (r.ok) sink++;
            }
          },
        },
        "stripe constructEvent": {
          opsPerBatch: perBatch,
          batch: () => {
            for (let i = 0; i < perBatch; i++) {
              if (stripe.webhooks.constructEvent(body, stripeHeader, stripeSecret).id) sink++;
            }
          },
        },
        "bare HMAC + JSON.parse": {
          opsPerBatch: perBatch,
          batch: () => {
            for (let i = 0; i < perBatch; i++) {
              createHmac("sha256", stripeSecret).update(`${t}.`).update(body).digest();
              if (JSON.parse(body.toString("utf8")).id) sink++;
            }
          },
        },
        "bulwark standard-webhooks": {
          opsPerBatch: perBatch,
          batch: async () => {
            for (let i = 0; i < perBatch; i++) {
              const r = await swVerifier.verify({ headers: swHeaders, rawBody: body });
              if (r.ok) sink++;
            }
          },
        },
        "standardwebhooks verify": {
          opsPerBatch: perBatch,
          batch: () => {
            for (let i = 0; i < perBatch; i++) if (wh.verify(body, swHeaders)) sink++;
          },
        },
      },
      options,
    );
    if (sink === 0) throw new Error("webhooks bench: nothing verified");

    const value = (name: string) => results[name] as number;
    const caseName = `verify ${body.length} B + parse: verifications/s`;
    const row = (subject: string, extra: Partial<BenchRow> = {}): BenchRow => ({
      suite: "webhooks",
      case: caseName,
      subject,
      value: value(subject),
      unit: "ops/s",
      ...extra,
    });
    const ratio = (a: string, b: string) => value(a) / value(b);
    const vsStripe = ratio("bulwark stripe", "stripe constructEvent");
    const vsBare = ratio("bulwark stripe", "bare HMAC + JSON.parse");
    const vsStandard = ratio("bulwark standard-webhooks", "standardwebhooks verify");
    const swVsBare = ratio("bulwark standard-webhooks", "bare HMAC + JSON.parse");
    const ceiling = ratio("bare HMAC + JSON.parse", "standardwebhooks verify");
    return [
      row("stripe constructEvent"),
      row("bulwark stripe", {
        ratio: vsStripe,
        target: "≥ 1.2× stripe constructEvent",
        pass: vsStripe >= 1.2,
      }),
      row("standardwebhooks verify"),
      row("bulwark standard-webhooks", {
        ratio: vsStandard,
        target: "≥ 4× standardwebhooks verify",
        pass: vsStandard >= 4,
      }),
      row("bare HMAC + JSON.parse"),
      // How far above standardwebhooks the physical limit itself is on this machine: the most any
      // verifier that computes one native HMAC and one JSON.parse can reach against it.
      {
        suite: "webhooks",
        case: caseName,
        subject: "ceiling: bare loop ÷ standardwebhooks",
        value: value("bare HMAC + JSON.parse"),
        unit: "ops/s",
        ratio: ceiling,
      },
      {
        suite: "webhooks",
        case: caseName,
        subject: "bulwark stripe ÷ bare loop",
        value: value("bulwark stripe"),
        unit: "ops/s",
        ratio: vsBare,
        target: "≥ 0.8× bare HMAC + JSON.parse",
        pass: vsBare >= 0.8,
      },
      {
        suite: "webhooks",
        case: caseName,
        subject: "bulwark standard-webhooks ÷ bare loop",
        value: value("bulwark standard-webhooks"),
        unit: "ops/s",
        ratio: swVsBare,
        target: "≥ 0.8× bare HMAC + JSON.parse",
        pass: swVsBare >= 0.8,
      },
    ];
  },
};
