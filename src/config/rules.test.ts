import { describe, expect, it } from "vitest";
import { z } from "zod";
import { memoryLogger } from "../core/logger.js";
import { toBase64url, toHex } from "../crypto/bytes.js";
import { type ConfigProblem, defineConfig } from "./define.js";
import { notSecret, secret } from "./secret.js";
import { entropyBits } from "./values.js";

const STRONG = "q7Vt2LxP9mWc4RzK8sNf3HjB6dYg1AeU";
const KEY_32 = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);

/** Problems of one variable under the given NODE_ENV (schema: a plain string). */
function check(name: string, value: string, nodeEnv: string | undefined, options = {}): ConfigProblem[] {
  const definition = defineConfig({ [name]: z.string() }, options);
  const env: Record<string, string> = { [name]: value };
  if (nodeEnv !== undefined) env.NODE_ENV = nodeEnv;
  const result = definition.safeLoad(env);
  return result.ok ? [] : [...result.problems];
}

const rules = (problems: ConfigProblem[]) => problems.map((p) => p.rule);

describe("production rule: secret strength", () => {
  it("refuses a short secret in production and allows it elsewhere", () => {
    const problems = check("SESSION_SECRET", "too-short-1234", "production");
    expect(problems).toEqual([
      {
        variable: "SESSION_SECRET",
        expected:
          "at least 32 random characters (≥ 96 bits, no placeholder) in production; try: openssl rand -base64 32",
        received: "a 14-character value (hidden)",
        rule: "secret-strength",
      },
    ]);
    expect(check("SESSION_SECRET", "too-short-1234", "development")).toEqual([]);
    expect(check("SESSION_SECRET", "too-short-1234", undefined)).toEqual([]);
  });

  it("refuses a long secret with little entropy", () => {
    expect(entropyBits("ab".repeat(24))).toBe(48);
    expect(rules(check("JWT_SECRET", "ab".repeat(24), "production"))).toEqual(["secret-strength"]);
    expect(rules(check("JWT_SECRET", "a".repeat(64), "production"))).toEqual(["secret-strength"]);
  });

  it("refuses well-known placeholders however long", () => {
    for (const value of [
      "changeme-changeme-changeme-changeme-42",
      "my-super-secret-value-for-prod-XYZ-123",
      "Password123!Password123!Password123!",
    ]) {
      expect(rules(check("SESSION_SECRET", value, "production"))).toEqual(["secret-strength"]);
    }
  });

  it("accepts 32 random characters and openssl-style keys", () => {
    expect(check("SESSION_SECRET", STRONG, "production")).toEqual([]);
    expect(check("SESSION_SECRET", toBase64url(KEY_32), "production")).toEqual([]);
    expect(check("SESSION_SECRET", toHex(KEY_32), "production")).toEqual([]);
  });

  it("applies to secret() variables and a raised minimum, and not to URL-valued secrets", () => {
    expect(rules(check("SESSION_SECRET", STRONG, "production", { minSecretLength: 48 }))).toEqual([
      "secret-strength",
    ]);
    expect(check("DATABASE_URL", "postgres://app:pw@db.internal/app", "production")).toEqual([]);
    const marked = defineConfig({ LICENSE: z.string() }).safeLoad({
      NODE_ENV: "production",
      LICENSE: "short",
    });
    expect(marked.ok).toBe(true);
  });

  it("is skipped for variables marked notSecret()", () => {
    const definition = defineConfig({ STRIPE_PUBLISHABLE_KEY: notSecret(z.string()) });
    expect(definition.safeLoad({ NODE_ENV: "production", STRIPE_PUBLISHABLE_KEY: "pk_live_short" }).ok).toBe(
      true,
    );
  });
});

describe("dangerouslyAllowWeakSecret", () => {
  it("skips only the strength rule for that secret and warns once at definition time", () => {
    const logger = memoryLogger();
    const definition = defineConfig(
      { SMTP_PASS: secret(z.string(), { dangerouslyAllowWeakSecret: true }), SESSION_SECRET: z.string() },
      { logger },
    );
    expect(logger.entries).toEqual([
      {
        level: "warn",
        variable: "SMTP_PASS",
        rule: "secret-strength",
        msg: "bulwark/config: dangerouslyAllowWeakSecret turns off the production strength rule for this secret",
      },
    ]);
    const result = definition.safeLoad({
      NODE_ENV: "production",
      SMTP_PASS: "abcd1234",
      SESSION_SECRET: "short",
    });
    expect(result.ok ? [] : result.problems.map((p) => `${p.variable}:${p.rule}`)).toEqual([
      "SESSION_SECRET:secret-strength",
    ]);
    const testKey = definition.safeLoad({
      NODE_ENV: "production",
      SMTP_PASS: "sk_test_1",
      SESSION_SECRET: STRONG,
    });
    expect(testKey.ok ? [] : testKey.problems.map((p) => p.rule)).toEqual(["stripe-test-key"]);
    definition.safeLoad({ SMTP_PASS: "x", SESSION_SECRET: "y" });
    expect(logger.entries).toHaveLength(1);
  });

  it("refuses a logger without warn()", () => {
    expect(() => defineConfig({ A: z.string() }, { logger: {} as never })).toThrow(
      /"logger" must have a warn/,
    );
  });
});

describe("production rule: no localhost URLs", () => {
  it.each([
    "http://localhost:3000",
    "postgres://app:pw@127.0.0.1:5432/app",
    "redis://127.10.0.1",
    "http://[::1]:8080/",
    "http://0.0.0.0",
    "https://app.localhost",
    "http://LOCALHOST.",
    "https://ok.example.com, http://localhost:5173",
  ])("refuses %s in production", (value) => {
    expect(rules(check("UPSTREAM", value, "production"))).toContain("no-localhost");
    expect(check("UPSTREAM", value, "development")).toEqual([]);
  });

  it("accepts remote hosts and values that are not URLs", () => {
    expect(check("UPSTREAM", "https://api.example.com", "production")).toEqual([]);
    expect(check("UPSTREAM", "localhost", "production")).toEqual([]);
    expect(check("UPSTREAM", "https://localhost-proxy.example.com", "production")).toEqual([]);
  });

  it("shows a non-secret URL but hides a secret one", () => {
    expect(check("UPSTREAM", "http://localhost:3000", "production")[0]!.received).toBe(
      '"http://localhost:3000"',
    );
    expect(check("DATABASE_URL", "postgres://app:pw@localhost/app", "production")[0]).toEqual({
      variable: "DATABASE_URL",
      expected: "no localhost or loopback URL in production",
      received: "a 31-character value (hidden)",
      rule: "no-localhost",
    });
  });
});

describe("production rule: https origins", () => {
  it.each([
    ["CORS_ORIGIN", "http://app.example.com"],
    ["ALLOWED_ORIGINS", "https://a.example.com,http://b.example.com"],
    ["APP_URL", "http://app.example.com"],
    ["PUBLIC_URL", "app.example.com"],
    ["OAUTH_REDIRECT_URI", "http://app.example.com/callback"],
  ])("refuses %s=%s in production", (name, value) => {
    expect(rules(check(name, value, "production"))).toEqual(["https-origin"]);
    expect(check(name, value, "test")).toEqual([]);
  });

  it("accepts https origins, single and listed", () => {
    expect(check("CORS_ORIGIN", "https://app.example.com", "production")).toEqual([]);
    expect(check("ALLOWED_ORIGINS", "https://a.example.com, https://b.example.com", "production")).toEqual(
      [],
    );
  });

  it("applies to the names given in httpsVariables", () => {
    expect(check("WIDGET_HOST", "http://w.example.com", "production")).toEqual([]);
    expect(
      rules(check("WIDGET_HOST", "http://w.example.com", "production", { httpsVariables: ["WIDGET_HOST"] })),
    ).toEqual(["https-origin"]);
  });
});

describe("Stripe key rules", () => {
  it("refuses a live secret key outside production, even with NODE_ENV unset", () => {
    for (const nodeEnv of [undefined, "development", "test", "staging"]) {
      expect(check("STRIPE_SECRET_KEY", "sk_live_51H8abcdefghijklmnopqrstuv", nodeEnv)).toEqual([
        {
          variable: "STRIPE_SECRET_KEY",
          expected: "no Stripe live key (sk_live_/rk_live_) outside production",
          received: "a 34-character value (hidden)",
          rule: "stripe-live-key",
        },
      ]);
    }
    expect(rules(check("STRIPE_RESTRICTED", "rk_live_51H8abcdefghijklmnop", "development"))).toEqual([
      "stripe-live-key",
    ]);
  });

  it("accepts a live key in production", () => {
    expect(check("STRIPE_SECRET_KEY", "sk_live_51H8abcdefghijklmnopqrstuvwxyzAB", "production")).toEqual([]);
  });

  it("refuses a test key in production and accepts it elsewhere", () => {
    expect(
      rules(check("STRIPE_SECRET_KEY", "sk_test_51H8abcdefghijklmnopqrstuvwxyzAB", "production")),
    ).toEqual(["stripe-test-key"]);
    expect(
      rules(check("STRIPE_PUBLISHABLE", "pk_test_51H8abcdefghijklmnopqrstuvwxyzAB", "production")),
    ).toEqual(["stripe-test-key"]);
    expect(check("STRIPE_SECRET_KEY", "sk_test_51H8abcdefghijklmnopqrstuvwxyzAB", "development")).toEqual([]);
  });
});

describe("production rule: encryption key of exactly 32 bytes", () => {
  it("accepts 32 bytes as base64url, base64 or hex", () => {
    for (const value of [toBase64url(KEY_32), Buffer.from(KEY_32).toString("base64"), toHex(KEY_32)]) {
      expect(check("ENCRYPTION_KEY", value, "production")).toEqual([]);
    }
  });

  it.each([
    ["16 bytes", toHex(KEY_32.subarray(0, 16))],
    ["33 bytes", `${toHex(KEY_32)}aa`],
    ["all zeros", "0".repeat(64)],
    ["a passphrase", "correct horse battery staple correct horse"],
  ])("refuses %s in production", (_, value) => {
    expect(check("ENCRYPTION_KEY", value, "production")).toEqual([
      {
        variable: "ENCRYPTION_KEY",
        expected: "exactly 32 bytes (64 hex digits or 43 base64url characters), not all zeros, in production",
        received: `a ${value.length}-character value (hidden)`,
        rule: "encryption-key",
      },
    ]);
    expect(check("ENCRYPTION_KEY", value, "development")).toEqual([]);
  });

  it("applies to MASTER_KEY, FIELD_ENC_KEY and names given in encryptionKeyVariables", () => {
    expect(rules(check("MASTER_KEY", "short", "production"))).toEqual(["encryption-key"]);
    expect(rules(check("PII_ENC_KEY", "short", "production"))).toEqual(["encryption-key"]);
    expect(
      rules(check("SSN_CIPHER", STRONG, "production", { encryptionKeyVariables: ["SSN_CIPHER"] })),
    ).toEqual(["encryption-key"]);
  });
});

describe("when production rules apply", () => {
  it("follows NODE_ENV=production (trimmed) by default and always with productionRules: always", () => {
    expect(rules(check("SESSION_SECRET", "short", " production "))).toEqual(["secret-strength"]);
    expect(rules(check("SESSION_SECRET", "short", "Production"))).toEqual([]);
    expect(rules(check("SESSION_SECRET", "short", undefined, { productionRules: "always" }))).toEqual([
      "secret-strength",
    ]);
    const definition = defineConfig({ SESSION_SECRET: z.string() });
    const forced = definition.safeLoad({ SESSION_SECRET: "short" }, { productionRules: "always" });
    expect(forced.ok).toBe(false);
    expect(forced.production).toBe(true);
  });

  it("keeps each variable's schema and rule problems next to each other, in declaration order", () => {
    const definition = defineConfig({ API_TOKEN: z.string().min(40), PORT: z.coerce.number() });
    const result = definition.safeLoad({ NODE_ENV: "production", API_TOKEN: "short", PORT: "x" });
    expect(result.ok ? [] : result.problems.map((p) => `${p.variable}:${p.rule}`)).toEqual([
      "API_TOKEN:schema",
      "API_TOKEN:secret-strength",
      "PORT:schema",
    ]);
  });

  it("reports schema problems and rule problems together", () => {
    const definition = defineConfig({
      PORT: z.coerce.number(),
      CORS_ORIGIN: z.string(),
      API_TOKEN: z.string(),
    });
    const result = definition.safeLoad({
      NODE_ENV: "production",
      PORT: "x",
      CORS_ORIGIN: "http://localhost:3000",
      API_TOKEN: "sk_test_abc",
    });
    expect(result.ok ? [] : result.problems.map((p) => `${p.variable}:${p.rule}`)).toEqual([
      "PORT:schema",
      "CORS_ORIGIN:no-localhost",
      "CORS_ORIGIN:https-origin",
      "API_TOKEN:stripe-test-key",
      "API_TOKEN:secret-strength",
    ]);
  });
});
