import Stripe from "stripe";
import { describe, expect, it, vi } from "vitest";
import { manualClock } from "../core/clock.js";
import { memoryLogger } from "../core/logger.js";

/**
 * Runtimes without node:crypto (edge workers, browsers) take the Web Crypto path, where every
 * primitive is async. The same verifications must hold there.
 */
vi.mock("./crypto.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("./crypto.js")>();
  return { ...original, backend: original.webBackend };
});

const { backend } = await import("./crypto.js");
const { webhookVerifier } = await import("./verifier.js");
const { generateWebhookKeyPair, signStripeWebhook, signWebhook } = await import("./sign.js");

const START = Date.UTC(2026, 0, 1);

describe("verification on the Web Crypto backend", () => {
  it("runs on the web backend", () => {
    expect(backend.name).toBe("web");
  });

  it("verifies Stripe deliveries from the stripe SDK, rejects tampering and wrong secrets", async () => {
    const secret = "whsec_web_crypto_0123456789";
    const clock = manualClock(START);
    const verifier = webhookVerifier({
      provider: "stripe",
      secrets: ["whsec_other_0123456789", secret],
      clock,
      logger: memoryLogger(),
    });
    const body = JSON.stringify({ id: "evt_web", object: "event" });
    const header = new Stripe("sk_test").webhooks.generateTestHeaderString({
      payload: body,
      secret,
      timestamp: START / 1000,
    });
    expect(await verifier.verify({ headers: { "stripe-signature": header }, rawBody: body })).toMatchObject({
      ok: true,
      id: "evt_web",
    });
    expect(await verifier.verify({ headers: { "stripe-signature": header }, rawBody: `${body} ` })).toEqual({
      ok: false,
      code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
    });
    const ours = await signStripeWebhook({ body, secrets: secret, clock });
    expect(
      new Stripe("sk_test").webhooks.constructEvent(body, ours["stripe-signature"], secret, 1e9).id,
    ).toBe("evt_web");
  });

  it("verifies Standard Webhooks v1 and v1a, including a whsk_ seed whose public key is derived asynchronously", async () => {
    const clock = manualClock(START);
    const pair = await generateWebhookKeyPair();
    const seedOnly = `whsk_${Buffer.from(pair.secretKey.slice(5), "base64").subarray(0, 32).toString("base64")}`;
    const body = '{"type":"x"}';
    const v1a = await signWebhook({ id: "msg_w", body, secrets: pair.secretKey, clock });
    for (const key of [pair.publicKey, seedOnly]) {
      const verifier = webhookVerifier({
        provider: "standard-webhooks",
        secrets: [key],
        clock,
        logger: memoryLogger(),
      });
      expect(await verifier.verify({ headers: v1a, rawBody: body })).toMatchObject({ ok: true, id: "msg_w" });
      expect(await verifier.verify({ headers: { ...v1a, "webhook-id": "msg_v" }, rawBody: body })).toEqual({
        ok: false,
        code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
      });
    }
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const verifier = webhookVerifier({
      provider: "standard-webhooks",
      secrets: [secret, pair.publicKey],
      clock,
      logger: memoryLogger(),
    });
    const v1 = await signWebhook({ id: "msg_h", body, secrets: secret, clock });
    expect((await verifier.verify({ headers: v1, rawBody: body })).ok).toBe(true);
    const wrongV1 = { ...v1, "webhook-signature": `v1,${"A".repeat(43)}= ${v1a["webhook-signature"]}` };
    expect(
      (await verifier.verify({ headers: { ...wrongV1, "webhook-id": "msg_w" }, rawBody: body })).ok,
    ).toBe(true);
  });

  it("verifies GitHub's published test vector", async () => {
    const verifier = webhookVerifier({
      provider: "github",
      secrets: ["It's a Secret to Everybody"],
      parse: "text",
      logger: memoryLogger(),
    });
    const r = await verifier.verify({
      headers: {
        "x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
      },
      rawBody: "Hello, World!",
    });
    expect(r).toMatchObject({ ok: true, event: "Hello, World!" });
  });
});
