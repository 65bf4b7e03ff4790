import { Console } from "node:console";
import { Writable } from "node:stream";
import { format, inspect } from "node:util";
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { BulwarkError } from "../core/errors.js";
import { type ConfigProblem, defineConfig } from "./define.js";
import { describeVar, isSecretName, notSecret, Secret, secret } from "./secret.js";
import type { StandardSchemaV1 } from "./standard-schema.js";

const STRONG = "q7Vt2LxP9mWc4RzK8sNf3HjB6dYg1AeU";

/** A hand-written Standard Schema (no library): a non-empty string whose messages quote the input. */
function quotingString(): StandardSchemaV1<unknown, string> {
  return {
    "~standard": {
      version: 1,
      vendor: "hand-written",
      validate: (value) =>
        typeof value === "string" && value.length >= 8
          ? { value }
          : { issues: [{ message: `Expected at least 8 characters but received ${JSON.stringify(value)}` }] },
    },
  };
}

function thrown(fn: () => unknown): BulwarkError {
  try {
    fn();
  } catch (error) {
    if (error instanceof BulwarkError) return error;
    throw error;
  }
  throw new Error("expected a BulwarkError");
}

function problemsOf(result: { ok: boolean; problems?: readonly ConfigProblem[] }): readonly ConfigProblem[] {
  if (result.ok || !result.problems) throw new Error("expected problems");
  return result.problems;
}

const app = defineConfig({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  DATABASE_URL: z.url(),
  SESSION_SECRET: z.string().min(16),
  API_ORIGIN: z.url().optional(),
  ADMIN_EMAILS: z
    .string()
    .transform((s) => s.split(",").map((e) => e.trim()))
    .optional(),
});

describe("defineConfig with zod 4 schemas, one per variable", () => {
  it("returns the typed, coerced config with defaults filled in", () => {
    const config = app.load({ DATABASE_URL: "postgres://db.internal/app", SESSION_SECRET: STRONG });
    expect(config.PORT).toBe(3000);
    expect(config.NODE_ENV).toBe("development");
    expect(config.API_ORIGIN).toBeUndefined();
    expect(config.SESSION_SECRET).toBeInstanceOf(Secret);
    expect(config.SESSION_SECRET.reveal()).toBe(STRONG);
    expect(config.DATABASE_URL.reveal()).toBe("postgres://db.internal/app");
    expectTypeOf(config.PORT).toEqualTypeOf<number>();
    expectTypeOf(config.SESSION_SECRET).toEqualTypeOf<Secret<string>>();
    expectTypeOf(config.DATABASE_URL).toEqualTypeOf<Secret<string>>();
    expectTypeOf(config.API_ORIGIN).toEqualTypeOf<string | undefined>();
    expectTypeOf(config.ADMIN_EMAILS).toEqualTypeOf<readonly string[] | undefined>();
  });

  it("reports every problem at once, in declaration order", () => {
    const problems = problemsOf(
      app.safeLoad({ NODE_ENV: "prod", PORT: "eighty", DATABASE_URL: "not a url", API_ORIGIN: "nope" }),
    );
    expect(problems.map((p) => [p.variable, p.rule])).toEqual([
      ["NODE_ENV", "schema"],
      ["PORT", "schema"],
      ["DATABASE_URL", "schema"],
      ["SESSION_SECRET", "schema"],
      ["API_ORIGIN", "schema"],
    ]);
    expect(problems[0]).toEqual({
      variable: "NODE_ENV",
      expected: 'Invalid option: expected one of "development"|"test"|"production"',
      received: '"prod"',
      rule: "schema",
    });
    expect(problems[1]!.received).toBe('"eighty"');
    expect(problems[2]!.received).toBe("a 9-character value (hidden)");
    expect(problems[3]!.received).toBe("missing");
  });

  it("treats an empty variable as missing by default, and as a value when told not to", () => {
    const env = { DATABASE_URL: "postgres://db/app", SESSION_SECRET: "" };
    expect(problemsOf(app.safeLoad(env))).toEqual([
      {
        variable: "SESSION_SECRET",
        expected: "Invalid input: expected string, received undefined",
        received: "empty (counts as missing)",
        rule: "schema",
      },
    ]);
    const lenient = defineConfig({ FEATURE_FLAG: z.string() }, { emptyAsMissing: false });
    expect(lenient.load({ FEATURE_FLAG: "" }).FEATURE_FLAG).toBe("");
    expect(problemsOf(lenient.safeLoad({}))[0]!.received).toBe("missing");
  });

  it("reads process.env when no env is given", () => {
    const definition = defineConfig({ BULWARK_TEST_ONLY_VARIABLE: z.string() });
    process.env.BULWARK_TEST_ONLY_VARIABLE = "from-process";
    try {
      expect(definition.load().BULWARK_TEST_ONLY_VARIABLE).toBe("from-process");
    } finally {
      delete process.env.BULWARK_TEST_ONLY_VARIABLE;
    }
  });

  it("throws ERR_ENV_INVALID from load() with the table as message and the problems as details", () => {
    const error = thrown(() => app.load({ SESSION_SECRET: "sk_live_abcdefghijklmnop" }));
    expect(error.code).toBe("ERR_ENV_INVALID");
    expect(error.message).toContain("Invalid environment: 2 problems");
    expect(error.message).toContain("DATABASE_URL");
    expect(error.message).not.toContain("sk_live_abcdefghijklmnop");
    expect((error.details!.problems as ConfigProblem[]).map((p) => p.rule)).toEqual([
      "schema",
      "stripe-live-key",
    ]);
  });

  it("deep-freezes the config, secrets included", () => {
    const config = defineConfig({
      ORIGINS: z.string().transform((s) => ({ list: s.split(",") })),
      JWT_SECRET: z.string().transform((s) => ({ keys: [s] })),
    }).load({ ORIGINS: "https://a.example,https://b.example", JWT_SECRET: STRONG });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.ORIGINS)).toBe(true);
    expect(Object.isFrozen(config.ORIGINS.list)).toBe(true);
    expect(Object.isFrozen(config.JWT_SECRET)).toBe(true);
    expect(Object.isFrozen(config.JWT_SECRET.reveal().keys)).toBe(true);
    expect(() => {
      (config as { ORIGINS: unknown }).ORIGINS = "x";
    }).toThrow(TypeError);
    expect(() => (config.ORIGINS.list as string[]).push("https://evil.example")).toThrow(TypeError);
  });
});

describe("secret redaction", () => {
  const config = defineConfig({
    SESSION_SECRET: z.string(),
    PORT: z.coerce.number(),
  }).load({ SESSION_SECRET: STRONG, PORT: "8080" });

  it("hides secrets from console.log, util.inspect, util.format and JSON.stringify", () => {
    let printed = "";
    const sink = new Writable({
      write(chunk, _encoding, done) {
        printed += chunk.toString();
        done();
      },
    });
    const logger = new Console({ stdout: sink, stderr: sink });
    logger.log(config);
    logger.log(config.SESSION_SECRET);
    logger.log("%s %o %O %j", config.SESSION_SECRET, config, config, config);
    logger.error({ nested: { deep: [config] } });
    const shown = [
      printed,
      inspect(config, { showHidden: true, depth: Number.POSITIVE_INFINITY, getters: true }),
      format("%s", config.SESSION_SECRET),
      JSON.stringify(config),
      JSON.stringify({ config }),
    ].join("\n");
    expect(shown).not.toContain(STRONG);
    expect(shown).toContain("Secret([redacted])");
    expect(JSON.stringify(config)).toBe('{"SESSION_SECRET":"[redacted]","PORT":8080}');
    expect(printed).toContain("8080");
  });

  it("shows [redacted] for String(), template literals and concatenation", () => {
    expect(String(config.SESSION_SECRET)).toBe("[redacted]");
    expect(`${config.SESSION_SECRET}`).toBe("[redacted]");
    expect(`Bearer ${config.SESSION_SECRET}`).toBe("Bearer [redacted]");
    // biome-ignore lint/style/useTemplate: concatenation is the path under test
    expect("x" + config.SESSION_SECRET).toBe("x[redacted]");
  });

  it("reveals the value only through reveal(), and compares in constant time with equals()", () => {
    expect(config.SESSION_SECRET.reveal()).toBe(STRONG);
    expect(config.SESSION_SECRET.equals(STRONG)).toBe(true);
    expect(config.SESSION_SECRET.equals(`${STRONG}x`)).toBe(false);
    expect(config.SESSION_SECRET.equals(42 as never)).toBe(false);
    expect(Object.keys(config.SESSION_SECRET)).toEqual([]);
    expect(structuredClone(config.SESSION_SECRET)).toEqual({});
  });
});

describe("which variables are secret", () => {
  it.each([
    "SESSION_SECRET",
    "db_password",
    "GITHUB_TOKEN",
    "STRIPE_SECRET_KEY",
    "ENCRYPTION_KEY",
    "PRIVATE_KEY_PEM",
    "OPENAI_API_KEY",
    "SENDGRID_APIKEY",
    "DATABASE_URL",
    "READONLY_DATABASE_URL",
    "REDIS_URL",
    "SMTP_PASS",
    "SENTRY_DSN",
    "PASSWORD_SALT",
    "KEY",
  ])("%s is secret by name", (name) => {
    expect(isSecretName(name)).toBe(true);
    const config = defineConfig({ [name]: z.string() }).load({ [name]: STRONG });
    expect(config[name]).toBeInstanceOf(Secret);
  });

  it.each(["PORT", "NODE_ENV", "LOG_LEVEL", "APP_URL", "KEYCLOAK_REALM", "MONKEY"])("%s is not", (name) => {
    expect(isSecretName(name)).toBe(false);
  });

  it("follows secret() on any name and notSecret() over a secret-looking name", () => {
    const config = defineConfig({
      LICENSE: secret(z.string()),
      STRIPE_PUBLISHABLE_KEY: notSecret(z.string()),
      MAYBE_SECRET: secret(z.string().optional()),
    }).load({ LICENSE: "ABCD-EFGH-1234", STRIPE_PUBLISHABLE_KEY: "pk_live_abc" });
    expect(config.LICENSE).toBeInstanceOf(Secret);
    expect(config.STRIPE_PUBLISHABLE_KEY).toBe("pk_live_abc");
    expect(config.MAYBE_SECRET).toBeUndefined();
    expectTypeOf(config.LICENSE).toEqualTypeOf<Secret<string>>();
    expectTypeOf(config.STRIPE_PUBLISHABLE_KEY).toEqualTypeOf<string>();
    expectTypeOf(config.MAYBE_SECRET).toEqualTypeOf<Secret<string> | undefined>();
  });

  it("never reports a secret's value, even when the validator quotes it", () => {
    const definition = defineConfig({ LICENSE: secret(quotingString()), WEBHOOK_SECRET: quotingString() });
    const problems = problemsOf(definition.safeLoad({ LICENSE: "abc", WEBHOOK_SECRET: "whsec" }));
    expect(problems).toEqual([
      {
        variable: "LICENSE",
        expected: 'Expected at least 8 characters but received "[redacted]"',
        received: "a 3-character value (hidden)",
        rule: "schema",
      },
      {
        variable: "WEBHOOK_SECRET",
        expected: 'Expected at least 8 characters but received "[redacted]"',
        received: "a 5-character value (hidden)",
        rule: "schema",
      },
    ]);
  });

  it("hides a credential-looking value in a variable not declared secret", () => {
    const definition = defineConfig({ MODE: z.enum(["none"]), CALLBACK: z.url(), NOTE: z.enum(["a"]) });
    const problems = problemsOf(
      definition.safeLoad({
        MODE: "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        CALLBACK: "https://user:hunter2@/x",
        NOTE: "Zq8vN3xL0pR7sT2wY5kB9mD4",
      }),
    );
    expect(problems.map((p) => p.received)).toEqual([
      "a 40-character value (hidden: looks like a credential)",
      "a 23-character value (hidden: looks like a credential)",
      "a 24-character value (hidden: looks like a credential)",
    ]);
    expect(JSON.stringify(problems)).not.toContain("hunter2");
    expect(JSON.stringify(problems)).not.toContain("ghp_");
    expect(JSON.stringify(problems)).not.toContain("Zq8v");
  });

  it("shows a non-secret value quoted, truncated and with control characters escaped", () => {
    const problems = problemsOf(
      defineConfig({ MODE: z.enum(["a"]) }).safeLoad({ MODE: `x\u001b[31m${"y".repeat(80)}` }),
    );
    expect(problems[0]!.received).toBe(`"x\\u001b[31m${"y".repeat(54)}…"`);
  });
});

describe("defineConfig with one object schema", () => {
  const objectSchema = z
    .object({
      PORT: z.coerce.number().default(3000),
      SESSION_SECRET: z.string().min(32),
      LICENSE: secret(z.string()),
      FEATURE_X: z.enum(["on", "off"]).default("off"),
      X_ENDPOINT: z.url().optional(),
    })
    .refine((env) => env.FEATURE_X === "off" || env.X_ENDPOINT !== undefined, {
      message: "FEATURE_X=on needs X_ENDPOINT",
    });

  it("validates the whole environment and types the result from the object schema", () => {
    const config = defineConfig(objectSchema).load({
      SESSION_SECRET: STRONG,
      LICENSE: "L-1",
      UNRELATED: "x",
    });
    expect(config.PORT).toBe(3000);
    expect(config.SESSION_SECRET.reveal()).toBe(STRONG);
    expect(config.LICENSE).toBeInstanceOf(Secret);
    expect(Object.keys(config)).not.toContain("UNRELATED");
    expectTypeOf(config.PORT).toEqualTypeOf<number>();
    expectTypeOf(config.SESSION_SECRET).toEqualTypeOf<Secret<string>>();
    expectTypeOf(config.LICENSE).toEqualTypeOf<Secret<string>>();
  });

  it("maps every issue to its variable and object-level rules to (config)", () => {
    const fieldProblems = problemsOf(
      defineConfig(objectSchema).safeLoad({ SESSION_SECRET: "short", PORT: "x" }),
    );
    expect(fieldProblems.map((p) => [p.variable, p.received])).toEqual([
      ["PORT", '"x"'],
      ["SESSION_SECRET", "a 5-character value (hidden)"],
      ["LICENSE", "missing"],
    ]);
    const objectProblems = problemsOf(
      defineConfig(objectSchema).safeLoad({ SESSION_SECRET: STRONG, LICENSE: "L", FEATURE_X: "on" }),
    );
    expect(objectProblems).toEqual([
      { variable: "(config)", expected: "FEATURE_X=on needs X_ENDPOINT", received: "—", rule: "schema" },
    ]);
  });

  it("works with a hand-written object schema whose fields it cannot list", () => {
    const handWritten: StandardSchemaV1<unknown, { API_TOKEN: string }> = {
      "~standard": {
        version: 1,
        vendor: "hand-written",
        validate(value) {
          const token = (value as Record<string, unknown>).API_TOKEN;
          return typeof token === "string" && token.length > 10
            ? { value: { API_TOKEN: token } }
            : { issues: [{ message: "a token longer than 10 characters", path: [{ key: "API_TOKEN" }] }] };
        },
      },
    };
    const definition = defineConfig(handWritten);
    expect(definition.load({ API_TOKEN: "t0k3n-0123456789" }).API_TOKEN.reveal()).toBe("t0k3n-0123456789");
    expect(problemsOf(definition.safeLoad({ API_TOKEN: "short" }))).toEqual([
      {
        variable: "API_TOKEN",
        expected: "a token longer than 10 characters",
        received: "a 5-character value (hidden)",
        rule: "schema",
      },
    ]);
    expect(definition.variables).toEqual([]);
    expect(thrown(() => definition.example()).message).toMatch(/does not expose its fields/);
  });
});

describe("defineConfig refusals", () => {
  it.each([
    [
      "a schema that is not an object",
      "PORT",
      /expected a record of schemas or an object schema, got a string/,
    ],
    ["an empty record", {}, /declares no variables/],
    [
      "a field that is not a Standard Schema",
      { PORT: { parse() {} } },
      /the schema of PORT is not a Standard Schema/,
    ],
  ])("refuses %s", (_, schema, message) => {
    const error = thrown(() => defineConfig(schema as never));
    expect(error.code).toBe("ERR_CONFIG_INVALID");
    expect(error.message).toMatch(message);
  });

  it.each([
    ["an unknown option, with a hint", { emptyAsMising: true }, /did you mean "emptyAsMissing"/],
    [
      "productionRules off",
      { productionRules: "never" },
      /"productionRules" must be one of "auto", "always"/,
    ],
    ["a lowered minSecretLength", { minSecretLength: 16 }, /"minSecretLength" must be ≥ 32/],
    ["a lowered minSecretEntropyBits", { minSecretEntropyBits: 64 }, /"minSecretEntropyBits" must be ≥ 96/],
    ["a non-boolean emptyAsMissing", { emptyAsMissing: "yes" }, /"emptyAsMissing" must be a boolean/],
    [
      "httpsVariables that is not a list",
      { httpsVariables: "CORS_ORIGIN" },
      /"httpsVariables" must be an array/,
    ],
    [
      "encryptionKeyVariables with a blank",
      { encryptionKeyVariables: [""] },
      /"encryptionKeyVariables" must be an array/,
    ],
  ])("refuses %s", (_, options, message) => {
    const error = thrown(() => defineConfig({ PORT: z.string() }, options as never));
    expect(error.code).toBe("ERR_CONFIG_INVALID");
    expect(error.message).toMatch(message);
  });

  it("refuses an asynchronous schema when loading", () => {
    const definition = defineConfig({ TOKEN_URL: z.string().refine(async () => true) });
    const error = thrown(() => definition.safeLoad({ TOKEN_URL: "x" }));
    expect(error.code).toBe("ERR_CONFIG_INVALID");
    expect(error.message).toMatch(/TOKEN_URL validates asynchronously/);
  });

  it("does not mutate the schema record or the options", () => {
    const schema = { PORT: z.string() };
    const options = { httpsVariables: ["X"] };
    defineConfig(schema, options).load({ PORT: "1" });
    expect(Object.keys(schema)).toEqual(["PORT"]);
    expect(options).toEqual({ httpsVariables: ["X"] });
  });
});

describe("variables and .env.example", () => {
  const definition = defineConfig({
    NODE_ENV: z.enum(["development", "production"]).default("development").describe("Runtime mode."),
    PORT: z.coerce.number().default(3000),
    DATABASE_URL: z.url().describe("PostgreSQL connection string."),
    SESSION_SECRET: secret(z.string().min(32), { description: "Signs session cookies." }),
    PUBLIC_ORIGIN: describeVar(z.url(), {
      description: "Where the app is served.",
      example: "https://app.example.com",
    }),
    GREETING: z.string().optional().meta({ example: "hello world" }),
  });

  it("lists each variable with secrecy, requirement, description, example and default", () => {
    expect(definition.variables).toEqual([
      {
        name: "NODE_ENV",
        secret: false,
        required: false,
        description: "Runtime mode.",
        example: undefined,
        defaultValue: "development",
      },
      {
        name: "PORT",
        secret: false,
        required: false,
        description: undefined,
        example: undefined,
        defaultValue: "3000",
      },
      {
        name: "DATABASE_URL",
        secret: true,
        required: true,
        description: "PostgreSQL connection string.",
        example: undefined,
        defaultValue: undefined,
      },
      {
        name: "SESSION_SECRET",
        secret: true,
        required: true,
        description: "Signs session cookies.",
        example: undefined,
        defaultValue: undefined,
      },
      {
        name: "PUBLIC_ORIGIN",
        secret: false,
        required: true,
        description: "Where the app is served.",
        example: "https://app.example.com",
        defaultValue: undefined,
      },
      {
        name: "GREETING",
        secret: false,
        required: false,
        description: undefined,
        example: "hello world",
        defaultValue: undefined,
      },
    ]);
  });

  it("writes a .env.example with comments, examples and defaults, and no secret values", () => {
    expect(definition.example()).toBe(
      [
        "# Generated by `bulwark env example` from the config schema. Commit this file; never put real secrets in it.",
        "",
        "# Runtime mode.",
        "# (optional, default: development)",
        "NODE_ENV=development",
        "",
        "# (optional, default: 3000)",
        "PORT=3000",
        "",
        "# PostgreSQL connection string.",
        "# (secret, required)",
        "DATABASE_URL=",
        "",
        "# Signs session cookies.",
        "# (secret, required)",
        "# generate with: openssl rand -base64 32",
        "SESSION_SECRET=",
        "",
        "# Where the app is served.",
        "# (required)",
        "PUBLIC_ORIGIN=https://app.example.com",
        "",
        "# (optional)",
        "GREETING='hello world'",
        "",
      ].join("\n"),
    );
  });

  it("lists the fields of a zod object schema too", () => {
    const fromObject = defineConfig(
      z.object({ PORT: z.coerce.number().default(8080), API_TOKEN: z.string() }),
    );
    expect(fromObject.example()).toContain("PORT=8080");
    expect(fromObject.example()).toContain(
      "# (secret, required)\n# generate with: openssl rand -base64 32\nAPI_TOKEN=",
    );
  });
});
