import { describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import { memoryReplayStore } from "../stores/memory/webhooks.js";
import { webhookGuard } from "./guard.js";
import {
  generateWebhookKeyPair,
  generateWebhookSecret,
  signGitHubWebhook,
  signStripeWebhook,
  signWebhook,
} from "./sign.js";
import { webhookVerifier } from "./verifier.js";

const STRIPE = "whsec_0123456789abcdefghij";

function configError(make: () => unknown): Error {
  try {
    make();
  } catch (e) {
    expect(isBulwarkError(e, "ERR_CONFIG_INVALID")).toBe(true);
    return e as Error;
  }
  throw new Error("expected ERR_CONFIG_INVALID");
}

describe("webhookVerifier options", () => {
  it.each([
    [
      "an unknown option",
      { provider: "stripe", secrets: [STRIPE], toleranceSecs: 10 },
      'did you mean "toleranceSeconds"',
    ],
    ["a misspelt provider", { provider: "stripee", secrets: [STRIPE] }, 'did you mean "stripe"'],
    ["an unknown provider object", { provider: { rsa: {} }, secrets: [STRIPE] }, '"provider" must be'],
    ["no secrets", { provider: "stripe", secrets: [] }, '"secrets" must be an array'],
    [
      "a single secret not in an array",
      { provider: "stripe", secrets: STRIPE },
      '"secrets" must be an array',
    ],
    ["an undefined secret (unset env var)", { provider: "stripe", secrets: [undefined] }, "secrets[0]"],
    ["eleven secrets", { provider: "stripe", secrets: Array(11).fill(STRIPE) }, "1–10"],
    [
      "a Stripe API key instead of the endpoint secret",
      { provider: "stripe", secrets: ["sk_live_abc"] },
      "whsec_",
    ],
    ["a zero tolerance", { provider: "stripe", secrets: [STRIPE], toleranceSeconds: 0 }, "toleranceSeconds"],
    [
      "a tolerance over an hour",
      { provider: "stripe", secrets: [STRIPE], toleranceSeconds: 3601 },
      "toleranceSeconds",
    ],
    [
      "a fractional tolerance",
      { provider: "stripe", secrets: [STRIPE], toleranceSeconds: 1.5 },
      "toleranceSeconds",
    ],
    ["parse: text for Stripe", { provider: "stripe", secrets: [STRIPE], parse: "text" }, "Stripe"],
    ["an unknown parse", { provider: "github", secrets: ["s"], parse: "xml" }, '"parse"'],
    [
      "a replay store without forget",
      { provider: "stripe", secrets: [STRIPE], replayStore: { remember() {} } },
      "replayStore",
    ],
    [
      "a replay store with replay protection disabled",
      {
        provider: "stripe",
        secrets: [STRIPE],
        replayStore: memoryReplayStore(),
        dangerouslyDisableReplayProtection: true,
      },
      "contradict",
    ],
    ["a short whsec_", { provider: "standard-webhooks", secrets: ["whsec_c2hvcnQ="] }, "24–64 bytes"],
    [
      "a whsec_ that is not base64",
      { provider: "standard-webhooks", secrets: ["whsec_!!!!"] },
      "not valid base64",
    ],
    ["a whpk_ of the wrong length", { provider: "standard-webhooks", secrets: ["whpk_YWJj"] }, "32-byte"],
    ["a whsk_ of the wrong length", { provider: "standard-webhooks", secrets: ["whsk_YWJj"] }, "seed"],
    [
      "raw bytes for Standard Webhooks",
      { provider: "standard-webhooks", secrets: [new Uint8Array(32)] },
      "whsec_",
    ],
    ["an empty GitHub secret", { provider: "github", secrets: [""] }, "secrets[0]"],
    [
      "a generic template without {body}",
      { provider: { hmac: { header: "x", encoding: "hex", content: "{id}" } }, secrets: ["s"] },
      "{body}",
    ],
    [
      "a generic template with {body} twice",
      { provider: { hmac: { header: "x", encoding: "hex", content: "{body}{body}" } }, secrets: ["s"] },
      "{body}",
    ],
    [
      "an unknown placeholder",
      { provider: { hmac: { header: "x", encoding: "hex", content: "{nonce}.{body}" } }, secrets: ["s"] },
      "placeholders",
    ],
    [
      "{id} without idHeader",
      { provider: { hmac: { header: "x", encoding: "hex", content: "{id}.{body}" } }, secrets: ["s"] },
      "idHeader",
    ],
    [
      "{timestamp} without timestampHeader",
      { provider: { hmac: { header: "x", encoding: "hex", content: "{timestamp}.{body}" } }, secrets: ["s"] },
      "timestampHeader",
    ],
    [
      "an unsigned timestampHeader",
      { provider: { hmac: { header: "x", encoding: "hex", timestampHeader: "x-ts" } }, secrets: ["s"] },
      "unsigned",
    ],
    [
      "an unknown encoding",
      { provider: { hmac: { header: "x", encoding: "base32" } }, secrets: ["s"] },
      "encoding",
    ],
    [
      "an unknown algorithm",
      { provider: { hmac: { header: "x", encoding: "hex", algorithm: "md5" } }, secrets: ["s"] },
      "algorithm",
    ],
    [
      "an invalid header name",
      { provider: { hmac: { header: "x sig", encoding: "hex" } }, secrets: ["s"] },
      "header name",
    ],
    [
      "an unknown generic option",
      { provider: { hmac: { header: "x", encoding: "hex", prefx: "a" } }, secrets: ["s"] },
      'did you mean "prefix"',
    ],
  ])("refuses %s", (_name, options, message) => {
    expect(configError(() => webhookVerifier(options as never)).message).toContain(message);
  });

  it("refuses a 64-byte whsk_ whose public half does not match its seed", async () => {
    const a = await generateWebhookKeyPair();
    const b = await generateWebhookKeyPair();
    const mixed = Buffer.concat([
      Buffer.from(a.secretKey.slice(5), "base64").subarray(0, 32),
      Buffer.from(b.publicKey.slice(5), "base64"),
    ]);
    const error = configError(() =>
      webhookVerifier({ provider: "standard-webhooks", secrets: [`whsk_${mixed.toString("base64")}`] }),
    );
    expect(error.message).toContain("does not match");
  });

  it("never puts a secret in a configuration error message", () => {
    const secret = "sk_live_51SECRETSECRETSECRET";
    expect(
      configError(() => webhookVerifier({ provider: "stripe", secrets: [secret] })).message,
    ).not.toContain(secret);
    const bad = "whsec_!!notbase64-SECRET!!";
    expect(
      configError(() => webhookVerifier({ provider: "standard-webhooks", secrets: [bad] })).message,
    ).not.toContain("SECRET");
  });

  it("does not mutate the caller's options or secrets", () => {
    const secrets = [STRIPE];
    const options = Object.freeze({ provider: "stripe" as const, secrets: Object.freeze(secrets) });
    webhookVerifier(options);
    expect(secrets).toEqual([STRIPE]);
  });

  it("warns once, at construction, when replay protection is disabled", () => {
    const logger = memoryLogger();
    webhookVerifier({
      provider: "stripe",
      secrets: [STRIPE],
      dangerouslyDisableReplayProtection: true,
      logger,
    });
    expect(logger.entries).toEqual([
      expect.objectContaining({ level: "warn", option: "dangerouslyDisableReplayProtection" }),
    ]);
  });

  it("rejects, rather than resolves, a call without headers or with a parsed body", async () => {
    const verifier = webhookVerifier({ provider: "stripe", secrets: [STRIPE], logger: memoryLogger() });
    await expect(verifier.verify({ rawBody: "{}" } as never)).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
    await expect(verifier.verify({ headers: {}, rawBody: { id: 1 } } as never)).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
  });
});

describe("webhookGuard options", () => {
  const verifier = webhookVerifier({ provider: "stripe", secrets: [STRIPE], logger: memoryLogger() });
  it.each([
    ["a zero maxBytes", { maxBytes: 0 }],
    ["a maxBytes over 64 MiB", { maxBytes: 65 * 1024 * 1024 }],
    ["an unknown option", { limit: 5 }],
  ])("refuses %s", (_name, options) => {
    configError(() => webhookGuard(verifier, options as never));
  });

  it("refuses something that is not a verifier", () => {
    configError(() => webhookGuard({} as never));
  });
});

describe("signing options", () => {
  it.each([
    [
      "an id containing a dot",
      () => signWebhook({ id: "msg.1", body: "{}", secrets: generateWebhookSecret() }),
    ],
    [
      "an id with whitespace",
      () => signWebhook({ id: "msg 1", body: "{}", secrets: generateWebhookSecret() }),
    ],
    [
      "a public key as the signing key",
      async () => signWebhook({ id: "m", body: "{}", secrets: (await generateWebhookKeyPair()).publicKey }),
    ],
    [
      "a negative timestamp",
      () => signWebhook({ id: "m", body: "{}", secrets: generateWebhookSecret(), timestamp: -1 }),
    ],
    [
      "a parsed body",
      () => signWebhook({ id: "m", body: { a: 1 } as never, secrets: generateWebhookSecret() }),
    ],
    ["no secrets", () => signStripeWebhook({ body: "{}", secrets: [] })],
    ["an unknown option", () => signGitHubWebhook({ body: "{}", secret: "s", algo: "sha1" } as never)],
  ] as Array<[string, () => Promise<unknown>]>)("refuses %s", async (_name, sign) => {
    await expect(Promise.resolve().then(sign)).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
  });

  it("generates whsec_ secrets of the requested size and refuses sizes outside 24–64 bytes", () => {
    expect(Buffer.from(generateWebhookSecret().slice(6), "base64")).toHaveLength(32);
    expect(Buffer.from(generateWebhookSecret(64).slice(6), "base64")).toHaveLength(64);
    expect(generateWebhookSecret()).not.toBe(generateWebhookSecret());
    configError(() => generateWebhookSecret(16));
    configError(() => generateWebhookSecret(65));
  });
});
