import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { BulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import type { ContinueOutcome, Outcome, RespondOutcome } from "../core/outcome.js";
import { type RequestView, viewFromParts } from "../core/request.js";
import { webhookGuard } from "./guard.js";
import { generateWebhookSecret, signWebhook } from "./sign.js";
import type { ReplayStore } from "./types.js";
import { webhookVerifier } from "./verifier.js";

const SECRET = generateWebhookSecret();
const START = Date.UTC(2026, 0, 1);

async function delivery(id = "msg_guard", body = '{"type":"payment.succeeded"}') {
  const clock = manualClock(START);
  const headers = await signWebhook({ id, body, secrets: SECRET, clock });
  return viewFromParts({ method: "POST", url: "/webhooks", headers: { ...headers }, body });
}

function setup(replayStore?: ReplayStore) {
  const clock = manualClock(START);
  const logger = memoryLogger();
  const verifier = webhookVerifier({
    provider: "standard-webhooks",
    secrets: [SECRET],
    clock,
    logger,
    ...(replayStore ? { replayStore } : {}),
  });
  return { verifier, logger, guard: webhookGuard(verifier, { logger }) };
}

function respond(outcome: Outcome): RespondOutcome & { json: Record<string, unknown> } {
  if (outcome.action !== "respond") throw new Error("expected a response");
  return { ...outcome, json: JSON.parse(String(outcome.body)) };
}

function proceed(outcome: Outcome): ContinueOutcome {
  if (outcome.action !== "continue") throw new Error(`expected continue, got ${outcome.status}`);
  return outcome;
}

describe("webhookGuard", () => {
  it("continues with locals.webhook = { id, timestamp, event }", async () => {
    const { guard } = setup();
    const outcome = proceed(await guard(await delivery()));
    expect(outcome.locals).toEqual({
      webhook: { id: "msg_guard", timestamp: START / 1000, event: { type: "payment.succeeded" } },
    });
  });

  it("answers a duplicate 200 without running the handler", async () => {
    const { guard } = setup();
    const first = proceed(await guard(await delivery()));
    await first.onResponse?.({ status: 200, headers: [], body: new Uint8Array() });
    const again = respond(await guard(await delivery()));
    expect(again.status).toBe(200);
    expect(again.headers).toEqual([
      ["content-type", "application/json"],
      ["cache-control", "no-store"],
    ]);
    expect(again.json).toEqual({ received: true, duplicate: true });
  });

  it("forgets the delivery when the handler did not answer 2xx, so the provider's retry is processed", async () => {
    const { guard } = setup();
    for (const status of [500, 400, 302]) {
      const first = proceed(await guard(await delivery(`msg_${status}`)));
      await first.onResponse?.({ status, headers: [], body: new Uint8Array() });
      proceed(await guard(await delivery(`msg_${status}`)));
    }
  });

  it("answers 413 ERR_WEBHOOK_BODY_TOO_LARGE past maxBytes, by length or from the adapter", async () => {
    const { verifier, logger } = setup();
    const guard = webhookGuard(verifier, { maxBytes: 10, logger });
    const big = respond(await guard(await delivery()));
    expect(big.status).toBe(413);
    expect(big.json).toMatchObject({ code: "ERR_WEBHOOK_BODY_TOO_LARGE" });
    const view: RequestView = {
      ...(await delivery()),
      rawBody: () => Promise.reject(new BulwarkError("ERR_BODY_TOO_LARGE", "too large", { status: 413 })),
    };
    expect(respond(await webhookGuard(verifier, { logger })(view)).status).toBe(413);
  });

  it("rethrows an unexpected body read error", async () => {
    const { guard } = setup();
    const view: RequestView = { ...(await delivery()), rawBody: () => Promise.reject(new Error("aborted")) };
    await expect(guard(view)).rejects.toThrow("aborted");
  });

  it("answers 500 ERR_WEBHOOK_RAW_BODY_UNAVAILABLE when the adapter gives no raw body", async () => {
    const { guard, logger } = setup();
    const { rawBody: _, ...view } = await delivery();
    expect(respond(await guard(view)).json).toMatchObject({
      status: 500,
      code: "ERR_WEBHOOK_RAW_BODY_UNAVAILABLE",
    });
    expect(logger.entries.at(-1)).toMatchObject({ level: "error" });
  });

  it("answers 503 when the replay store is down, so the provider retries later", async () => {
    const down: ReplayStore = {
      kind: "down",
      remember: () => Promise.reject(new Error("ECONNREFUSED")),
      forget: () => Promise.reject(new Error("ECONNREFUSED")),
    };
    const { guard, logger } = setup(down);
    const outcome = respond(await guard(await delivery()));
    expect(outcome.status).toBe(503);
    expect(outcome.json).toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    expect(logger.entries.at(-1)).toMatchObject({
      level: "error",
      code: "ERR_STORE_UNAVAILABLE",
      store: "down",
    });
  });

  it("logs, without throwing, when forgetting a failed delivery fails", async () => {
    let fail = false;
    const flaky: ReplayStore = {
      kind: "flaky",
      remember: async () => true,
      forget: async () => {
        if (fail) throw new Error("timeout");
      },
    };
    const { guard, logger } = setup(flaky);
    const outcome = proceed(await guard(await delivery()));
    fail = true;
    await expect(
      outcome.onResponse?.({ status: 500, headers: [], body: new Uint8Array() }),
    ).resolves.toBeUndefined();
    expect(logger.entries.at(-1)).toMatchObject({ level: "error", code: "ERR_STORE_UNAVAILABLE" });
  });

  it("answers 400 ERR_WEBHOOK_ID_MISSING for a signed Stripe event without an id", async () => {
    const { signStripeWebhook } = await import("./sign.js");
    const secret = "whsec_guard_test_secret_0123";
    const clock = manualClock(START);
    const body = '{"object":"event"}';
    const headers = await signStripeWebhook({ body, secrets: secret, clock });
    const verifier = webhookVerifier({
      provider: "stripe",
      secrets: [secret],
      clock,
      logger: memoryLogger(),
    });
    const outcome = respond(
      await webhookGuard(verifier, { logger: memoryLogger() })(
        viewFromParts({ method: "POST", headers, body }),
      ),
    );
    expect(outcome.status).toBe(400);
    expect(outcome.json).toMatchObject({ code: "ERR_WEBHOOK_ID_MISSING" });
  });
});
