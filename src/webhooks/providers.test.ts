import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { memoryLogger } from "../core/logger.js";
import { signGitHubWebhook } from "./sign.js";
import type { HmacProviderOptions } from "./types.js";
import { webhookVerifier } from "./verifier.js";

// GitHub's published test values ("Testing the webhook payload validation", docs.github.com,
// Validating webhook deliveries).
const GITHUB = {
  secret: "It's a Secret to Everybody",
  payload: "Hello, World!",
  header: "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
};

const quiet = () => ({ logger: memoryLogger() });

describe("GitHub (X-Hub-Signature-256)", () => {
  it("accepts GitHub's published test vector", async () => {
    const verifier = webhookVerifier({
      provider: "github",
      secrets: [GITHUB.secret],
      parse: "text",
      ...quiet(),
    });
    const r = await verifier.verify({
      headers: {
        "X-Hub-Signature-256": GITHUB.header,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      },
      rawBody: Buffer.from(GITHUB.payload),
    });
    expect(r).toEqual({
      ok: true,
      id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      timestamp: undefined,
      event: "Hello, World!",
      replayKey: "github:sha256:757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    });
  });

  it("signs GitHub's published test vector", async () => {
    expect(await signGitHubWebhook({ body: GITHUB.payload, secret: GITHUB.secret })).toEqual({
      "x-hub-signature-256": GITHUB.header,
    });
  });

  it("reports the valid-signature, non-JSON vector as malformed JSON under the default parse", async () => {
    const verifier = webhookVerifier({ provider: "github", secrets: [GITHUB.secret], ...quiet() });
    const r = await verifier.verify({
      headers: { "x-hub-signature-256": GITHUB.header },
      rawBody: GITHUB.payload,
    });
    expect(r).toEqual({ ok: false, code: "ERR_WEBHOOK_BODY_MALFORMED_JSON" });
  });

  it.each([
    ["a missing header", {}, GITHUB.payload, "ERR_WEBHOOK_SIGNATURE_MISSING"],
    [
      "the legacy sha1 header only",
      { "x-hub-signature": "sha1=abc" },
      GITHUB.payload,
      "ERR_WEBHOOK_SIGNATURE_MISSING",
    ],
    [
      "a sha1= prefix",
      { "x-hub-signature-256": `sha1=${"a".repeat(64)}` },
      GITHUB.payload,
      "ERR_WEBHOOK_SIGNATURE_MALFORMED",
    ],
    [
      "a short digest",
      { "x-hub-signature-256": "sha256=757107" },
      GITHUB.payload,
      "ERR_WEBHOOK_SIGNATURE_MALFORMED",
    ],
    [
      "a modified body",
      { "x-hub-signature-256": GITHUB.header },
      "Hello, World?",
      "ERR_WEBHOOK_SIGNATURE_MISMATCH",
    ],
    ["an empty body", { "x-hub-signature-256": GITHUB.header }, "", "ERR_WEBHOOK_BODY_EMPTY"],
  ])("rejects %s", async (_name, headers, body, code) => {
    const verifier = webhookVerifier({
      provider: "github",
      secrets: [GITHUB.secret],
      parse: "text",
      ...quiet(),
    });
    expect(await verifier.verify({ headers, rawBody: body })).toEqual({ ok: false, code });
  });

  it("catches a replay even when the unsigned X-GitHub-Delivery header or the hex case was changed", async () => {
    const verifier = webhookVerifier({
      provider: "github",
      secrets: [GITHUB.secret],
      parse: "text",
      ...quiet(),
    });
    const first = await verifier.verify({
      headers: { "x-hub-signature-256": GITHUB.header, "x-github-delivery": "a" },
      rawBody: GITHUB.payload,
    });
    expect(first.ok).toBe(true);
    for (const headers of [
      { "x-hub-signature-256": GITHUB.header, "x-github-delivery": "b" },
      { "x-hub-signature-256": `sha256=${GITHUB.header.slice(7).toUpperCase()}` },
    ]) {
      expect(await verifier.verify({ headers, rawBody: GITHUB.payload })).toMatchObject({
        ok: false,
        code: "ERR_WEBHOOK_REPLAYED",
      });
    }
  });

  it("parses a JSON delivery and accepts raw-byte secrets", async () => {
    const body = JSON.stringify({ action: "opened", number: 7 });
    const secret = new TextEncoder().encode(GITHUB.secret);
    const verifier = webhookVerifier({ provider: "github", secrets: [secret], ...quiet() });
    const headers = await signGitHubWebhook({ body, secret: GITHUB.secret });
    expect(await verifier.verify({ headers, rawBody: body })).toMatchObject({
      ok: true,
      event: { action: "opened", number: 7 },
    });
  });
});

describe("generic HMAC template", () => {
  const JEFE_SHA256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; // RFC 4231 case 2

  it("verifies an RFC 4231 HMAC over the body, hex-encoded", async () => {
    const verifier = webhookVerifier({
      provider: { hmac: { header: "X-Signature", encoding: "hex" } },
      secrets: ["Jefe"],
      parse: "text",
      ...quiet(),
    });
    const r = await verifier.verify({
      headers: { "x-signature": JEFE_SHA256 },
      rawBody: "what do ya want for nothing?",
    });
    expect(r).toMatchObject({ ok: true, event: "what do ya want for nothing?", id: `sha256:${JEFE_SHA256}` });
  });

  it("verifies a base64 HMAC-SHA512 with a prefix (RFC 4231 case 2)", async () => {
    const sha512 = Buffer.from(
      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
      "hex",
    ).toString("base64");
    const verifier = webhookVerifier({
      provider: {
        hmac: { header: "x-sig", encoding: "base64", prefix: "hmac-sha512 ", algorithm: "sha512" },
      },
      secrets: ["Jefe"],
      parse: "text",
      ...quiet(),
    });
    const r = await verifier.verify({
      headers: { "x-sig": `hmac-sha512 ${sha512}` },
      rawBody: "what do ya want for nothing?",
    });
    expect(r.ok).toBe(true);
    const noPrefix = await verifier.verify({
      headers: { "x-sig": sha512 },
      rawBody: "what do ya want for nothing?",
    });
    expect(noPrefix).toEqual({ ok: false, code: "ERR_WEBHOOK_SIGNATURE_MALFORMED" });
  });

  it("signs {id} and {timestamp} from their headers and enforces the window on the signed timestamp", async () => {
    const clock = manualClock(1_700_000_000_000);
    const hmac: HmacProviderOptions = {
      header: "x-acme-signature",
      encoding: "hex",
      prefix: "v1=",
      content: "{id}:{timestamp}:{body}",
      idHeader: "x-acme-id",
      timestampHeader: "x-acme-timestamp",
    };
    const verifier = webhookVerifier({ provider: { hmac }, secrets: ["acme-secret"], clock, ...quiet() });
    const body = '{"order":1}';
    const sign = (id: string, ts: number) =>
      `v1=${createHmac("sha256", "acme-secret").update(`${id}:${ts}:${body}`).digest("hex")}`;
    const headers = (id: string, ts: number, sig = sign(id, ts)) => ({
      "x-acme-signature": sig,
      "x-acme-id": id,
      "x-acme-timestamp": String(ts),
    });
    expect(await verifier.verify({ headers: headers("ord_1", 1_700_000_000), rawBody: body })).toEqual({
      ok: true,
      id: "ord_1",
      timestamp: 1_700_000_000,
      event: { order: 1 },
      replayKey: "hmac:ord_1",
    });
    expect(await verifier.verify({ headers: headers("ord_2", 1_699_999_000), rawBody: body })).toEqual({
      ok: false,
      code: "ERR_WEBHOOK_TIMESTAMP_TOO_OLD",
    });
    expect(
      await verifier.verify({
        headers: headers("ord_3", 1_700_000_000, sign("ord_X", 1_700_000_000)),
        rawBody: body,
      }),
    ).toEqual({
      ok: false,
      code: "ERR_WEBHOOK_SIGNATURE_MISMATCH",
    });
    const { "x-acme-timestamp": _, ...noTimestamp } = headers("ord_4", 1_700_000_000);
    expect(await verifier.verify({ headers: noTimestamp, rawBody: body })).toEqual({
      ok: false,
      code: "ERR_WEBHOOK_SIGNATURE_MISSING",
    });
    expect(
      await verifier.verify({
        headers: { ...headers("ord_5", 1_700_000_000), "x-acme-timestamp": "soon" },
        rawBody: body,
      }),
    ).toEqual({
      ok: false,
      code: "ERR_WEBHOOK_SIGNATURE_MALFORMED",
    });
  });

  it("supports text after the body in the template", async () => {
    const verifier = webhookVerifier({
      provider: { hmac: { header: "x-s", encoding: "hex", content: "{body}|end" } },
      secrets: ["k"],
      ...quiet(),
    });
    const sig = createHmac("sha256", "k").update('{"a":1}|end').digest("hex");
    expect((await verifier.verify({ headers: { "x-s": sig }, rawBody: '{"a":1}' })).ok).toBe(true);
  });
});
