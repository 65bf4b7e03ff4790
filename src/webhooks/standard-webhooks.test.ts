import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { memoryLogger } from "../core/logger.js";
import { decodeBase64, toHex } from "./crypto.js";
import { generateWebhookKeyPair, generateWebhookSecret, signWebhook } from "./sign.js";
import { webhookVerifier } from "./verifier.js";

// The vector of the standard-webhooks JavaScript library's own test suite ("sign function works").
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
// RFC 8032 §7.1 TEST 1 key pair.
const RFC8032_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

function verifierAt(timestamp: number, secrets: string[]) {
  const clock = manualClock(timestamp * 1000);
  const logger = memoryLogger();
  return {
    verifier: webhookVerifier({ provider: "standard-webhooks", secrets, clock, logger }),
    clock,
    logger,
  };
}

const vectorHeaders = {
  "webhook-id": VECTOR.id,
  "webhook-timestamp": String(VECTOR.timestamp),
  "webhook-signature": VECTOR.signature,
};

describe("Standard Webhooks v1 (HMAC)", () => {
  it("verifies the standard-webhooks library's published vector", async () => {
    const { verifier } = verifierAt(VECTOR.timestamp, [VECTOR.secret]);
    expect(await verifier.verify({ headers: vectorHeaders, rawBody: VECTOR.payload })).toEqual({
      ok: true,
      id: VECTOR.id,
      timestamp: VECTOR.timestamp,
      event: { test: 2432232314 },
      replayKey: `standard-webhooks:${VECTOR.id}`,
    });
  });

  it("signs the published vector byte for byte", async () => {
    const headers = await signWebhook({
      id: VECTOR.id,
      timestamp: VECTOR.timestamp,
      body: VECTOR.payload,
      secrets: VECTOR.secret,
    });
    expect(headers).toEqual(vectorHeaders);
  });

  it("accepts an unprefixed base64 secret, as the reference library does", async () => {
    const { verifier } = verifierAt(VECTOR.timestamp, [VECTOR.secret.slice("whsec_".length)]);
    expect((await verifier.verify({ headers: vectorHeaders, rawBody: VECTOR.payload })).ok).toBe(true);
  });

  it.each([
    ["the webhook-id is missing", { "webhook-id": undefined }, "ERR_WEBHOOK_SIGNATURE_MISSING"],
    ["the webhook-timestamp is missing", { "webhook-timestamp": undefined }, "ERR_WEBHOOK_SIGNATURE_MISSING"],
    ["the webhook-signature is missing", { "webhook-signature": undefined }, "ERR_WEBHOOK_SIGNATURE_MISSING"],
    [
      "the timestamp is not an integer",
      { "webhook-timestamp": "1614265330.5" },
      "ERR_WEBHOOK_SIGNATURE_MALFORMED",
    ],
    ["no signature is v1 or v1a", { "webhook-signature": "v2,abc" }, "ERR_WEBHOOK_SIGNATURE_MALFORMED"],
    [
      "the v1 signature is not 32 bytes",
      { "webhook-signature": "v1,YWJj" },
      "ERR_WEBHOOK_SIGNATURE_MALFORMED",
    ],
    ["the id was changed", { "webhook-id": "msg_other" }, "ERR_WEBHOOK_SIGNATURE_MISMATCH"],
    ["the timestamp was changed", { "webhook-timestamp": "1614265331" }, "ERR_WEBHOOK_SIGNATURE_MISMATCH"],
    [
      "the id is longer than 256 characters",
      { "webhook-id": "m".repeat(257) },
      "ERR_WEBHOOK_SIGNATURE_MALFORMED",
    ],
  ])("rejects a delivery when %s", async (_name, change, code) => {
    const { verifier } = verifierAt(VECTOR.timestamp, [VECTOR.secret]);
    const headers = { ...vectorHeaders, ...change };
    expect(await verifier.verify({ headers, rawBody: VECTOR.payload })).toEqual({ ok: false, code });
  });

  it("rejects a modified body, an empty body, and stale or future timestamps", async () => {
    const { verifier, clock } = verifierAt(VECTOR.timestamp, [VECTOR.secret]);
    const verify = (body: string) => verifier.verify({ headers: vectorHeaders, rawBody: body });
    expect(await verify('{"test": 2432232315}')).toEqual({
      ok: false,
      code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
    });
    expect(await verify("")).toEqual({ ok: false, code: "ERR_WEBHOOK_BODY_EMPTY" });
    clock.set((VECTOR.timestamp + 301) * 1000);
    expect(await verify(VECTOR.payload)).toEqual({ ok: false, code: "ERR_WEBHOOK_TIMESTAMP_TOO_OLD" });
    clock.set((VECTOR.timestamp - 301) * 1000);
    expect(await verify(VECTOR.payload)).toEqual({ ok: false, code: "ERR_WEBHOOK_TIMESTAMP_IN_FUTURE" });
  });

  it("treats a second delivery of one webhook-id as a duplicate, even re-signed with a new timestamp", async () => {
    const { verifier, clock } = verifierAt(VECTOR.timestamp, [VECTOR.secret]);
    expect((await verifier.verify({ headers: vectorHeaders, rawBody: VECTOR.payload })).ok).toBe(true);
    clock.advance(60_000);
    const retry = await signWebhook({ id: VECTOR.id, body: VECTOR.payload, secrets: VECTOR.secret, clock });
    expect(await verifier.verify({ headers: retry, rawBody: VECTOR.payload })).toEqual({
      ok: false,
      code: "ERR_WEBHOOK_REPLAYED",
      id: VECTOR.id,
    });
    await verifier.forget(`standard-webhooks:${VECTOR.id}`);
    expect((await verifier.verify({ headers: retry, rawBody: VECTOR.payload })).ok).toBe(true);
  });

  it("supports rotation both ways: several signatures in the header, several secrets in the verifier", async () => {
    const next = generateWebhookSecret();
    const both = await signWebhook({
      id: "msg_rot",
      timestamp: VECTOR.timestamp,
      body: "{}",
      secrets: [next, VECTOR.secret],
    });
    expect(both["webhook-signature"].split(" ")).toHaveLength(2);
    const { verifier: old } = verifierAt(VECTOR.timestamp, [VECTOR.secret]);
    expect((await old.verify({ headers: both, rawBody: "{}" })).ok).toBe(true);
    const { verifier: rotated } = verifierAt(VECTOR.timestamp, [next, VECTOR.secret]);
    expect((await rotated.verify({ headers: vectorHeaders, rawBody: VECTOR.payload })).ok).toBe(true);
    const { verifier: other } = verifierAt(VECTOR.timestamp, [generateWebhookSecret()]);
    expect(await other.verify({ headers: vectorHeaders, rawBody: VECTOR.payload })).toEqual({
      ok: false,
      code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
    });
  });
});

describe("cross-test with the standardwebhooks package", () => {
  it("verifies what standardwebhooks' Webhook.sign produces", async () => {
    const secret = generateWebhookSecret();
    const wh = new Webhook(secret);
    const verifier = webhookVerifier({
      provider: "standard-webhooks",
      secrets: [secret],
      logger: memoryLogger(),
    });
    for (let i = 0; i < 10; i++) {
      const body = JSON.stringify({ type: "invoice.paid", data: { i, note: "ünïcödé ✓" } });
      const timestamp = new Date();
      const id = `msg_${i}_${Date.now()}`;
      const headers = {
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
        "webhook-signature": wh.sign(id, timestamp, body),
      };
      expect(await verifier.verify({ headers, rawBody: Buffer.from(body) })).toMatchObject({ ok: true, id });
    }
  });

  it("produces headers that standardwebhooks' Webhook.verify accepts, and rejects when tampered", async () => {
    const secret = generateWebhookSecret(48);
    const wh = new Webhook(secret);
    for (let i = 0; i < 10; i++) {
      const body = JSON.stringify({ type: "meeting.booked", data: { i } });
      const headers = await signWebhook({ id: `msg_ours_${i}`, body, secrets: secret });
      expect(wh.verify(body, { ...headers })).toEqual({ type: "meeting.booked", data: { i } });
      expect(() => wh.verify(`${body} `, { ...headers })).toThrow();
    }
  });
});

describe("Standard Webhooks v1a (Ed25519)", () => {
  it("derives the RFC 8032 public key from a whsk_ seed and verifies with it", async () => {
    const publicKey = `whpk_${Buffer.from(RFC8032_PUBLIC, "hex").toString("base64")}`;
    const headers = await signWebhook({
      id: "msg_ed",
      timestamp: VECTOR.timestamp,
      body: VECTOR.payload,
      secrets: `whsk_${Buffer.from(RFC8032_SEED, "hex").toString("base64")}`,
    });
    expect(headers["webhook-signature"]).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    const { verifier } = verifierAt(VECTOR.timestamp, [publicKey]);
    expect(await verifier.verify({ headers, rawBody: VECTOR.payload })).toMatchObject({
      ok: true,
      id: "msg_ed",
    });
  });

  it("signs what node:crypto verifies independently over id.timestamp.body", async () => {
    const pair = await generateWebhookKeyPair();
    const body = '{"type":"lesson.scheduled"}';
    const headers = await signWebhook({ id: "msg_x", timestamp: 1700000000, body, secrets: pair.secretKey });
    const raw = decodeBase64(pair.publicKey.slice("whpk_".length)) as Uint8Array;
    const key = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") },
      format: "jwk",
    });
    const signature = Buffer.from(headers["webhook-signature"].slice("v1a,".length), "base64");
    expect(nodeVerify(null, Buffer.from(`msg_x.1700000000.${body}`), key, signature)).toBe(true);
    expect(nodeVerify(null, Buffer.from(`msg_x.1700000001.${body}`), key, signature)).toBe(false);
  });

  it("verifies with the public key or the secret key, rejects another key and a tampered body", async () => {
    const pair = await generateWebhookKeyPair();
    const other = await generateWebhookKeyPair();
    const body = '{"type":"artist.paid"}';
    const headers = await signWebhook({
      id: "msg_v1a",
      timestamp: VECTOR.timestamp,
      body,
      secrets: pair.secretKey,
    });
    for (const key of [pair.publicKey, pair.secretKey]) {
      const { verifier } = verifierAt(VECTOR.timestamp, [key]);
      expect((await verifier.verify({ headers, rawBody: body })).ok).toBe(true);
    }
    const { verifier: wrong } = verifierAt(VECTOR.timestamp, [other.publicKey]);
    expect(await wrong.verify({ headers, rawBody: body })).toEqual({
      ok: false,
      code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
    });
    const { verifier } = verifierAt(VECTOR.timestamp, [pair.publicKey]);
    expect(await verifier.verify({ headers, rawBody: `${body} ` })).toEqual({
      ok: false,
      code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
    });
  });

  it("accepts a header carrying v1 and v1a signatures with whichever key the verifier holds", async () => {
    const pair = await generateWebhookKeyPair();
    const body = "{}";
    const headers = await signWebhook({
      id: "msg_both",
      timestamp: VECTOR.timestamp,
      body,
      secrets: [VECTOR.secret, pair.secretKey],
    });
    expect(headers["webhook-signature"]).toMatch(/^v1,\S+ v1a,\S+$/);
    for (const key of [VECTOR.secret, pair.publicKey]) {
      const { verifier } = verifierAt(VECTOR.timestamp, [key]);
      expect((await verifier.verify({ headers, rawBody: body })).ok).toBe(true);
    }
  });

  it("writes whsk_ as seed‖public (64 bytes) and whpk_ as the 32-byte public key", async () => {
    const pair = await generateWebhookKeyPair();
    const secret = decodeBase64(pair.secretKey.slice(5)) as Uint8Array;
    const pub = decodeBase64(pair.publicKey.slice(5)) as Uint8Array;
    expect(secret).toHaveLength(64);
    expect(pub).toHaveLength(32);
    expect(toHex(secret.subarray(32))).toBe(toHex(pub));
  });
});
