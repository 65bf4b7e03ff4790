import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { webhookVerifier } from "../../src/webhooks/index.js";
import { type StripeSimulator, startStripeSimulator } from "./simulator.js";

/** A webhook receiver answering with scripted statuses and recording what arrived. */
async function receiver() {
  const received: { signature: string; body: string }[] = [];
  const script: number[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      received.push({ signature: String(req.headers["stripe-signature"]), body });
      res.writeHead(script.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`;
  return { url, received, script, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const params = (
  overrides: Partial<Stripe.Checkout.SessionCreateParams> = {},
): Stripe.Checkout.SessionCreateParams => ({
  mode: "payment",
  line_items: [
    {
      quantity: 1,
      price_data: { currency: "eur", unit_amount: 12_500, product_data: { name: "Registration" } },
    },
  ],
  payment_intent_data: { application_fee_amount: 625, transfer_data: { destination: "acct_school1" } },
  metadata: { school_id: "school-1", payment_id: "pay-1" },
  success_url: "http://127.0.0.1:1/paid?session_id={CHECKOUT_SESSION_ID}",
  cancel_url: "http://127.0.0.1:1/cancelled",
  ...overrides,
});

describe("Stripe simulator, driven by the real stripe SDK", () => {
  let sim: StripeSimulator;
  let stripe: Stripe;
  let hook: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    hook = await receiver();
    sim = await startStripeSimulator({ webhookUrl: hook.url, retryDelaysMs: [5, 5, 5] });
    stripe = new Stripe(sim.secretKey, {
      host: sim.host,
      port: sim.port,
      protocol: "http",
      maxNetworkRetries: 0,
    });
  });
  afterAll(async () => {
    await sim.close();
    await hook.close();
  });
  afterEach(async () => {
    await sim.idle();
    hook.received.length = 0;
    hook.script.length = 0;
  });

  it("creates a checkout session for a Connect destination charge and retrieves it", async () => {
    const created = await stripe.checkout.sessions.create(params());
    expect(created).toMatchObject({
      object: "checkout.session",
      amount_total: 12_500,
      currency: "eur",
      status: "open",
      payment_status: "unpaid",
      metadata: { school_id: "school-1", payment_id: "pay-1" },
    });
    expect(created.id).toMatch(/^cs_test_/);
    expect(created.url).toBe(`${sim.url}/c/pay/${created.id}`);
    expect(sim.session(created.id)?.connect).toEqual({
      destination: "acct_school1",
      stripe_account: null,
      application_fee_amount: 625,
    });
    const again = await stripe.checkout.sessions.retrieve(created.id);
    expect(again.id).toBe(created.id);
  });

  it("replays the first response for a repeated Idempotency-Key and refuses different parameters", async () => {
    const a = await stripe.checkout.sessions.create(params(), { idempotencyKey: "pay-1-attempt" });
    const b = await stripe.checkout.sessions.create(params(), { idempotencyKey: "pay-1-attempt" });
    expect(b.id).toBe(a.id);
    await expect(
      stripe.checkout.sessions.create(params({ metadata: { school_id: "other" } }), {
        idempotencyKey: "pay-1-attempt",
      }),
    ).rejects.toMatchObject({ type: "StripeIdempotencyError" });
  });

  it("refuses an unknown API key, a fee without a connected account and a fee above the amount", async () => {
    const wrong = new Stripe("sk_test_wrong", {
      host: sim.host,
      port: sim.port,
      protocol: "http",
      maxNetworkRetries: 0,
    });
    await expect(wrong.checkout.sessions.create(params())).rejects.toMatchObject({ statusCode: 401 });
    await expect(
      stripe.checkout.sessions.create(params({ payment_intent_data: { application_fee_amount: 10 } })),
    ).rejects.toMatchObject({ statusCode: 400, param: "payment_intent_data[application_fee_amount]" });
    await expect(
      stripe.checkout.sessions.create(
        params({
          payment_intent_data: { application_fee_amount: 20_000, transfer_data: { destination: "acct_x" } },
        }),
      ),
    ).rejects.toMatchObject({ statusCode: 400 });
  });

  it("scopes sessions created with the Stripe-Account header to that account", async () => {
    const direct = await stripe.checkout.sessions.create(
      params({ payment_intent_data: { application_fee_amount: 625 } }),
      { stripeAccount: "acct_direct" },
    );
    await expect(stripe.checkout.sessions.retrieve(direct.id)).rejects.toMatchObject({ statusCode: 404 });
    const seen = await stripe.checkout.sessions.retrieve(direct.id, {}, { stripeAccount: "acct_direct" });
    expect(seen.id).toBe(direct.id);
  });

  it("expires an open session and refuses to expire it twice", async () => {
    const s = await stripe.checkout.sessions.create(params());
    const expired = await stripe.checkout.sessions.expire(s.id);
    expect(expired.status).toBe("expired");
    await expect(stripe.checkout.sessions.expire(s.id)).rejects.toMatchObject({ statusCode: 400 });
  });

  it("serves a hosted page whose Pay button completes the session and redirects to success_url", async () => {
    const s = await stripe.checkout.sessions.create(params());
    const page = await fetch(s.url as string);
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain("EUR 125.00");
    expect(text).toContain(`action="/c/pay/${s.id}/confirm"`);
    const paid = await fetch(`${sim.url}/c/pay/${s.id}/confirm`, { method: "POST", redirect: "manual" });
    expect(paid.status).toBe(303);
    expect(paid.headers.get("location")).toBe(`http://127.0.0.1:1/paid?session_id=${s.id}`);
    await sim.idle();
    expect((await stripe.checkout.sessions.retrieve(s.id)).payment_status).toBe("paid");
    expect(hook.received).toHaveLength(1);
  });

  it("signs webhooks so that stripe.webhooks.constructEvent and bulwark's verifier accept them", async () => {
    const s = await stripe.checkout.sessions.create(params());
    const event = await sim.pay(s.id);
    const [delivery] = hook.received;
    expect(delivery).toBeDefined();
    const parsed = stripe.webhooks.constructEvent(delivery!.body, delivery!.signature, sim.webhookSecret);
    expect(parsed.id).toBe(event.id);
    expect(parsed.type).toBe("checkout.session.completed");
    const session = parsed.data.object as Stripe.Checkout.Session;
    expect(session).toMatchObject({ id: s.id, payment_status: "paid", metadata: { school_id: "school-1" } });
    const verifier = webhookVerifier({ provider: "stripe", secrets: [sim.webhookSecret] });
    const verified = await verifier.verify({
      headers: { "stripe-signature": delivery!.signature },
      rawBody: new TextEncoder().encode(delivery!.body),
    });
    expect(verified.ok).toBe(true);
    expect(() =>
      stripe.webhooks.constructEvent(delivery!.body, delivery!.signature, "whsec_other"),
    ).toThrow();
  });

  it("retries a delivery answered with 5xx until it succeeds, keeping the event id", async () => {
    hook.script.push(500, 503);
    const s = await stripe.checkout.sessions.create(params());
    const event = await sim.pay(s.id);
    const attempts = sim.deliveries.filter((d) => d.eventId === event.id);
    expect(attempts.map((d) => d.status)).toEqual([500, 503, 200]);
    expect(new Set(hook.received.map((r) => JSON.parse(r.body).id))).toEqual(new Set([event.id]));
  });

  it("gives up after the configured retries", async () => {
    hook.script.push(500, 500, 500, 500, 500);
    const s = await stripe.checkout.sessions.create(params());
    const event = await sim.pay(s.id);
    expect(sim.deliveries.filter((d) => d.eventId === event.id)).toHaveLength(4);
  });

  it("redelivers an event on demand as a duplicate", async () => {
    const s = await stripe.checkout.sessions.create(params());
    const event = await sim.pay(s.id);
    expect(await sim.redeliver(event.id)).toBe(200);
    expect(hook.received.map((r) => JSON.parse(r.body).id)).toEqual([event.id, event.id]);
  });

  it("sends duplicate deliveries when configured to", async () => {
    const dupHook = await receiver();
    const dupSim = await startStripeSimulator({ webhookUrl: dupHook.url, duplicateDeliveries: 2 });
    try {
      const client = new Stripe(dupSim.secretKey, {
        host: dupSim.host,
        port: dupSim.port,
        protocol: "http",
        maxNetworkRetries: 0,
      });
      const s = await client.checkout.sessions.create(params());
      await dupSim.pay(s.id);
      expect(dupHook.received).toHaveLength(3);
      expect(dupSim.deliveries.map((d) => d.duplicate)).toEqual([false, true, true]);
    } finally {
      await dupSim.close();
      await dupHook.close();
    }
  });
});
