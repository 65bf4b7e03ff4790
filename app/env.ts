import { z } from "zod";
import { defineConfig, notSecret, secret } from "../src/config/index.js";

/**
 * The app's environment. Every variable is optional in development: `npm start` runs on embedded
 * defaults (PGlite, memory store, the local Stripe simulator, the outbox page) and generates its
 * secrets for the life of the process. Production requires the secrets and the real services.
 */

export const env = defineConfig(
  z
    .object({
      NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
      HOST: z.string().default("127.0.0.1").describe("Interface to listen on."),
      PORT: z.coerce
        .number()
        .int()
        .min(0)
        .max(65_535)
        .default(3000)
        .describe("HTTP port (0: any free port)."),
      PUBLIC_ORIGIN: z
        .url()
        .optional()
        .describe("The origin browsers use, e.g. https://school.example.com (default http://HOST:PORT)."),
      CORS_ORIGINS: z
        .string()
        .optional()
        .describe("Comma-separated origins of separate front-ends allowed to call the API."),
      TRUST_PROXY: z.coerce
        .number()
        .int()
        .min(0)
        .max(5)
        .default(0)
        .describe("Proxy hops in front of the app."),
      DATABASE_URL: secret(z.url().optional(), {
        description: "PostgreSQL connection string; absent → embedded PGlite.",
      }),
      PGLITE_DATA_DIR: z.string().optional().describe("PGlite data directory; absent → in memory."),
      REDIS_URL: secret(z.url().optional(), {
        description: "Redis for rate limits and replay/idempotency state; absent → memory.",
      }),
      SMTP_URL: secret(z.url().optional(), {
        description: "smtp(s)://user:pass@host:port; absent → the local outbox page.",
      }),
      MAIL_FROM: z.string().default("Music School <no-reply@music-school.test>"),
      STRIPE_SECRET_KEY: secret(z.string().startsWith("sk_").optional(), {
        description: "Stripe API key; absent → the local Stripe simulator.",
      }),
      STRIPE_WEBHOOK_SECRET: secret(z.string().startsWith("whsec_").optional()),
      STRIPE_PUBLISHABLE_KEY: notSecret(z.string().startsWith("pk_").optional()),
      CSRF_SECRET: secret(z.string().min(32).optional()),
      SESSION_SECRET: secret(z.string().min(32).optional()),
      SEED: z
        .enum(["demo", "none"])
        .default("demo")
        .describe("Seed demo schools when the database is empty."),
    })
    .superRefine((value, ctx) => {
      if (value.STRIPE_SECRET_KEY && !value.STRIPE_WEBHOOK_SECRET) {
        ctx.addIssue({
          code: "custom",
          path: ["STRIPE_WEBHOOK_SECRET"],
          message: "required with STRIPE_SECRET_KEY",
        });
      }
      if (value.NODE_ENV !== "production") return;
      for (const name of [
        "CSRF_SECRET",
        "SESSION_SECRET",
        "DATABASE_URL",
        "STRIPE_SECRET_KEY",
        "SMTP_URL",
        "PUBLIC_ORIGIN",
      ] as const) {
        if (!value[name]) ctx.addIssue({ code: "custom", path: [name], message: "required in production" });
      }
    }),
);

export type AppEnv = ReturnType<typeof env.load>;
