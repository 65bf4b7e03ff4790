import fc from "fast-check";
import Stripe from "stripe";
import { beforeEach, describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { memoryLogger } from "../core/logger.js";
import { viewFromParts } from "../core/request.js";
import { memoryReplayStore } from "../stores/memory/webhooks.js";
import { webhookGuard } from "./guard.js";
import { parseStripeHeader } from "./schemes.js";
import { signStripeWebhook } from "./sign.js";
import type { VerifyFailureCode } from "./types.js";
import { webhookVerifier } from "./verifier.js";

/**
 * The study-abroad service's Stripe webhook security matrix, one test per row, with deliveries signed
 * by the real `stripe` SDK (`generateTestHeaderString`), checked first at the verifier (exact code)
 * and then at the HTTP edge (exact status and body).
 */

const stripe = new Stripe("sk_test_bulwark");
const SECRET = "whsec_studyabroad_current_0123456789";
const OLD_SECRET = "whsec_studyabroad_previous_9876543210";
const OTHER_SECRET = "whsec_someone_elses_endpoint_000000";
const START = Date.UTC(2026, 0, 1);
const NOW_S = START / 1000;

const event = (id = "evt_1QsA7xKc") =>
  JSON.stringify({
    id,
    object: "event",
    type: "checkout.session.completed",
    data: { object: { id: "cs_test_a1", amount_total: 250000, currency: "eur", payment_status: "paid" } },
  });

function stripeHeader(payload: string, options: { secret?: string; timestamp?: number } = {}): string {
  return stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? SECRET,
    timestamp: options.timestamp ?? NOW_S,
  });
}

interface Delivery {
  headers: Record<string, string>;
  body: string;
}

/** Each row builds its delivery; `replay` rows are delivered twice and judged on the second. */
interface Row {
  name: string;
  delivery: () => Delivery;
  code: VerifyFailureCode | "ok";
  replay?: boolean;
  secrets?: string[];
}

const valid = (): Delivery => ({ headers: { "stripe-signature": stripeHeader(event()) }, body: event() });

const MATRIX: Row[] = [
  { name: "valid delivery", delivery: valid, code: "ok" },
  {
    name: "invalid signature",
    delivery: () => ({ headers: { "stripe-signature": `t=${NOW_S},v1=${"ab".repeat(32)}` }, body: event() }),
    code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
  },
  {
    name: "missing header",
    delivery: () => ({ headers: {}, body: event() }),
    code: "ERR_WEBHOOK_SIGNATURE_MISSING",
  },
  {
    name: "malformed header",
    delivery: () => ({ headers: { "stripe-signature": "sha256=not-a-stripe-header" }, body: event() }),
    code: "ERR_WEBHOOK_SIGNATURE_MALFORMED",
  },
  { name: "replayed id", delivery: valid, replay: true, code: "ERR_WEBHOOK_REPLAYED" },
  {
    name: "modified payload",
    delivery: () => ({
      headers: { "stripe-signature": stripeHeader(event()) },
      body: event().replace("250000", "1"),
    }),
    code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
  },
  {
    name: "several signatures with one valid",
    delivery: () => {
      const good = stripeHeader(event()).split(",v1=")[1];
      return {
        headers: { "stripe-signature": `t=${NOW_S},v1=${"00".repeat(32)},v1=${good},v0=${"11".repeat(32)}` },
        body: event(),
      };
    },
    code: "ok",
  },
  {
    name: "empty payload",
    delivery: () => ({ headers: { "stripe-signature": stripeHeader("") }, body: "" }),
    code: "ERR_WEBHOOK_BODY_EMPTY",
  },
  {
    name: "malformed JSON with a valid signature",
    delivery: () => ({
      headers: { "stripe-signature": stripeHeader('{"id":"evt_1",') },
      body: '{"id":"evt_1",',
    }),
    code: "ERR_WEBHOOK_BODY_MALFORMED_JSON",
  },
  {
    name: "stale timestamp",
    delivery: () => ({
      headers: { "stripe-signature": stripeHeader(event(), { timestamp: NOW_S - 301 }) },
      body: event(),
    }),
    code: "ERR_WEBHOOK_TIMESTAMP_TOO_OLD",
  },
  {
    name: "future timestamp",
    delivery: () => ({
      headers: { "stripe-signature": stripeHeader(event(), { timestamp: NOW_S + 301 }) },
      body: event(),
    }),
    code: "ERR_WEBHOOK_TIMESTAMP_IN_FUTURE",
  },
  {
    name: "wrong secret",
    delivery: () => ({
      headers: { "stripe-signature": stripeHeader(event(), { secret: OTHER_SECRET }) },
      body: event(),
    }),
    code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
  },
  {
    name: "rotated secret (signed with the previous secret while both are configured)",
    delivery: () => ({
      headers: { "stripe-signature": stripeHeader(event(), { secret: OLD_SECRET }) },
      body: event(),
    }),
    secrets: [SECRET, OLD_SECRET],
    code: "ok",
  },
  {
    name: "rotated secret (signed with the previous secret after it was removed)",
    delivery: () => ({
      headers: { "stripe-signature": stripeHeader(event(), { secret: OLD_SECRET }) },
      body: event(),
    }),
    code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
  },
];

function setup(secrets = [SECRET]) {
  const clock = manualClock(START);
  const logger = memoryLogger();
  const verifier = webhookVerifier({
    provider: "stripe",
    secrets,
    clock,
    logger,
    replayStore: memoryReplayStore({ clock }),
  });
  return { clock, logger, verifier };
}

describe("study-abroad Stripe matrix — verifier codes", () => {
  for (const row of MATRIX) {
    it(`${row.name} → ${row.code}`, async () => {
      const { verifier } = setup(row.secrets);
      const d = row.delivery();
      let result = await verifier.verify({ headers: d.headers, rawBody: Buffer.from(d.body) });
      if (row.replay) {
        expect(result.ok).toBe(true);
        result = await verifier.verify({ headers: d.headers, rawBody: Buffer.from(d.body) });
      }
      if (row.code === "ok") {
        expect(result).toEqual({
          ok: true,
          id: "evt_1QsA7xKc",
          timestamp: NOW_S,
          event: JSON.parse(event()),
          replayKey: "stripe:evt_1QsA7xKc",
        });
      } else {
        expect(result.ok).toBe(false);
        expect(result).toMatchObject({ ok: false, code: row.code });
      }
    });
  }
});

describe("study-abroad Stripe matrix — HTTP edge", () => {
  const failureBody = {
    type: "https://bulwark.dev/errors/ERR_WEBHOOK_VERIFICATION_FAILED",
    title: "Webhook verification failed",
    status: 400,
    code: "ERR_WEBHOOK_VERIFICATION_FAILED",
  };
  const problemHeaders = [
    ["content-type", "application/problem+json"],
    ["cache-control", "no-store"],
  ];

  for (const row of MATRIX) {
    it(`${row.name} → ${row.code === "ok" ? "continue" : row.code}`, async () => {
      const { verifier, logger } = setup(row.secrets);
      const guard = webhookGuard(verifier, { logger });
      const d = row.delivery();
      const view = () =>
        viewFromParts({ method: "POST", url: "/webhooks/stripe", headers: d.headers, body: d.body });
      let outcome = await guard(view());
      if (row.replay) {
        expect(outcome.action).toBe("continue");
        outcome = await guard(view());
      }
      if (row.code === "ok") {
        expect(outcome).toMatchObject({
          action: "continue",
          locals: { webhook: { id: "evt_1QsA7xKc", timestamp: NOW_S, event: JSON.parse(event()) } },
        });
        return;
      }
      if (outcome.action !== "respond") throw new Error("expected a response");
      if (row.code === "ERR_WEBHOOK_REPLAYED") {
        expect(outcome.status).toBe(200);
        expect(JSON.parse(String(outcome.body))).toEqual({ received: true, duplicate: true });
        return;
      }
      if (row.code === "ERR_WEBHOOK_BODY_MALFORMED_JSON") {
        expect(outcome.status).toBe(400);
        expect(outcome.headers).toEqual(problemHeaders);
        expect(JSON.parse(String(outcome.body))).toMatchObject({
          status: 400,
          code: "ERR_WEBHOOK_BODY_MALFORMED_JSON",
        });
        return;
      }
      expect(outcome.status).toBe(400);
      expect(outcome.headers).toEqual(problemHeaders);
      expect(JSON.parse(String(outcome.body))).toEqual(failureBody);
      expect(logger.entries.map((e) => e.code)).toContain(row.code);
    });
  }

  it("answers every verification failure with byte-identical status, headers and body", async () => {
    const bodies = new Set<string>();
    for (const row of MATRIX) {
      if (row.code === "ok" || row.replay || row.code === "ERR_WEBHOOK_BODY_MALFORMED_JSON") continue;
      const { verifier } = setup(row.secrets);
      const d = row.delivery();
      const outcome = await webhookGuard(verifier, { logger: memoryLogger() })(
        viewFromParts({ method: "POST", url: "/", headers: d.headers, body: d.body }),
      );
      bodies.add(JSON.stringify(outcome));
    }
    expect(bodies.size).toBe(1);
  });

  it("never logs the secret, the signature header or the body", async () => {
    const { verifier, logger } = setup();
    const guard = webhookGuard(verifier, { logger });
    for (const row of MATRIX) {
      const d = row.delivery();
      await guard(viewFromParts({ method: "POST", url: "/", headers: d.headers, body: d.body }));
    }
    const logged = JSON.stringify(logger.entries);
    expect(logger.entries.length).toBeGreaterThan(5);
    expect(logged).not.toContain(SECRET);
    expect(logged).not.toContain(OLD_SECRET);
    expect(logged).not.toContain("v1=");
    expect(logged).not.toContain("amount_total");
  });
});

describe("Stripe timestamp window", () => {
  it("accepts timestamps exactly at the tolerance on both sides and rejects one second beyond", async () => {
    const { verifier } = setup();
    for (const [offset, expected] of [
      [-300, true],
      [300, true],
      [-301, false],
      [301, false],
    ] as const) {
      const body = event(`evt_${offset}`);
      const r = await verifier.verify({
        headers: { "stripe-signature": stripeHeader(body, { timestamp: NOW_S + offset }) },
        rawBody: body,
      });
      expect(r.ok).toBe(expected);
    }
  });

  it("honours toleranceSeconds", async () => {
    const clock = manualClock(START);
    const verifier = webhookVerifier({
      provider: "stripe",
      secrets: [SECRET],
      toleranceSeconds: 10,
      clock,
      logger: memoryLogger(),
    });
    const r = await verifier.verify({
      headers: { "stripe-signature": stripeHeader(event(), { timestamp: NOW_S - 11 }) },
      rawBody: event(),
    });
    expect(r).toEqual({ ok: false, code: "ERR_WEBHOOK_TIMESTAMP_TOO_OLD" });
  });
});

describe("Stripe header parsing", () => {
  let verify: (header: string) => Promise<unknown>;
  beforeEach(() => {
    const { verifier } = setup();
    verify = async (header) => {
      const r = await verifier.verify({ headers: { "stripe-signature": header }, rawBody: event() });
      return r.ok ? "ok" : r.code;
    };
  });

  it.each([
    ["no timestamp", `v1=${"ab".repeat(32)}`],
    ["two timestamps", `t=${NOW_S},t=${NOW_S},v1=${"ab".repeat(32)}`],
    ["a non-numeric timestamp", `t=12a4,v1=${"ab".repeat(32)}`],
    ["a timestamp with a leading zero", `t=0${NOW_S},v1=${"ab".repeat(32)}`],
    ["no v1 signature", `t=${NOW_S},v0=${"ab".repeat(32)}`],
    ["a v1 of the wrong length", `t=${NOW_S},v1=abcd`],
    ["a v1 that is not hex", `t=${NOW_S},v1=${"zz".repeat(32)}`],
    ["an item without '='", `t=${NOW_S},v1=${"ab".repeat(32)},junk`],
    ["more than 16 signatures", `t=${NOW_S}${`,v1=${"ab".repeat(32)}`.repeat(17)}`],
  ])("refuses a header with %s as malformed", async (_name, header) => {
    expect(await verify(header)).toBe("ERR_WEBHOOK_SIGNATURE_MALFORMED");
  });

  it("reads the header whatever its casing, from Headers or a record with arrays", async () => {
    const { verifier } = setup();
    const header = stripeHeader(event("evt_a"));
    expect(
      (await verifier.verify({ headers: { "STRIPE-SIGNATURE": header }, rawBody: event("evt_a") })).ok,
    ).toBe(true);
    const h = new Headers({ "Stripe-Signature": stripeHeader(event("evt_b")) });
    expect((await verifier.verify({ headers: h, rawBody: event("evt_b") })).ok).toBe(true);
    const r = await verifier.verify({
      headers: { "stripe-signature": [header, header] },
      rawBody: event("evt_a"),
    });
    expect(r).toEqual({ ok: false, code: "ERR_WEBHOOK_SIGNATURE_MALFORMED" });
  });

  it("fails for any single flipped byte of the body (property)", async () => {
    const { verifier } = setup();
    const body = Buffer.from(event());
    const header = stripeHeader(event());
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: body.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (at, xor) => {
          const tampered = Buffer.from(body);
          tampered[at] = (tampered[at] as number) ^ xor;
          const r = await verifier.verify({ headers: { "stripe-signature": header }, rawBody: tampered });
          expect(r).toEqual({ ok: false, code: "ERR_WEBHOOK_SIGNATURE_MISMATCH" });
        },
      ),
      { numRuns: 200 },
    );
  });

  it("parses Stripe's exact 80-character form the same as the general parser (property)", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{10}$/), fc.stringMatching(/^[0-9a-fA-Fg]{64}$/), (t, hex) => {
        const header = `t=${t},v1=${hex}`;
        const general = parseStripeHeader(`${header},v0=${"0".repeat(64)}`);
        expect(parseStripeHeader(header)).toEqual(general);
      }),
      { numRuns: 300 },
    );
  });

  it("reports a signed payload without an event id as ERR_WEBHOOK_ID_MISSING", async () => {
    const { verifier } = setup();
    const body = JSON.stringify({ object: "event" });
    const r = await verifier.verify({ headers: { "stripe-signature": stripeHeader(body) }, rawBody: body });
    expect(r).toEqual({ ok: false, code: "ERR_WEBHOOK_ID_MISSING" });
  });
});

describe("cross-test with the stripe SDK", () => {
  it("verifies headers from stripe.webhooks.generateTestHeaderString at the real clock", async () => {
    const verifier = webhookVerifier({
      provider: "stripe",
      secrets: [SECRET],
      dangerouslyDisableReplayProtection: true,
      logger: memoryLogger(),
    });
    for (let i = 0; i < 20; i++) {
      const payload = event(`evt_sdk_${i}`);
      const header = stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });
      const r = await verifier.verify({
        headers: { "stripe-signature": header },
        rawBody: Buffer.from(payload),
      });
      expect(r).toMatchObject({ ok: true, id: `evt_sdk_${i}` });
    }
  });

  it("produces signatures that stripe.webhooks.constructEvent accepts", async () => {
    for (let i = 0; i < 20; i++) {
      const payload = event(`evt_ours_${i}`);
      const { "stripe-signature": header } = await signStripeWebhook({ body: payload, secrets: SECRET });
      const constructed = stripe.webhooks.constructEvent(payload, header, SECRET);
      expect(constructed.id).toBe(`evt_ours_${i}`);
    }
  });

  it("signs with several secrets; constructEvent accepts each of them", async () => {
    const payload = event();
    const { "stripe-signature": header } = await signStripeWebhook({
      body: payload,
      secrets: [SECRET, OLD_SECRET],
    });
    expect(stripe.webhooks.constructEvent(payload, header, SECRET).id).toBe("evt_1QsA7xKc");
    expect(stripe.webhooks.constructEvent(payload, header, OLD_SECRET).id).toBe("evt_1QsA7xKc");
    expect(() => stripe.webhooks.constructEvent(payload, header, OTHER_SECRET)).toThrow();
  });

  it("agrees with constructEvent on arbitrary bodies and on tampered ones (property)", async () => {
    const verifier = webhookVerifier({
      provider: "stripe",
      secrets: [SECRET],
      dangerouslyDisableReplayProtection: true,
      logger: memoryLogger(),
    });
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 64 }), fc.boolean(), async (note, tamper) => {
        const payload = JSON.stringify({ id: "evt_prop", object: "event", note });
        const { "stripe-signature": header } = await signStripeWebhook({ body: payload, secrets: SECRET });
        const sent = tamper ? `${payload} ` : payload;
        let sdkOk = true;
        try {
          stripe.webhooks.constructEvent(sent, header, SECRET);
        } catch {
          sdkOk = false;
        }
        const ours = await verifier.verify({
          headers: { "stripe-signature": header },
          rawBody: Buffer.from(sent),
        });
        expect(ours.ok).toBe(sdkOk);
        expect(ours.ok).toBe(!tamper);
      }),
      { numRuns: 100 },
    );
  });
});
