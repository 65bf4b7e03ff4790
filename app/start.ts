import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import Stripe from "stripe";
import { createLogger } from "../src/observe/index.js";
import { ensureClientBuilt } from "./client-build.js";
import { type App, createApp } from "./create-app.js";
import { type AppDatabase, openDatabase } from "./db/database.js";
import type { AppEnv } from "./env.js";
import { createMailer, type Mailer } from "./mail/outbox.js";
import { WEBHOOK_PATH } from "./routes/webhook.js";
import { type SeededSchool, seedDemo } from "./seed.js";
import { type StripeSimulator, startStripeSimulator } from "./stripe-sim/simulator.js";

export interface Running {
  readonly url: string;
  readonly app: App;
  readonly server: Server;
  readonly database: AppDatabase;
  readonly simulator: StripeSimulator | undefined;
  readonly seeded: SeededSchool[] | undefined;
  readonly log: Logger;
  /** Cleanup in reverse order of opening (for gracefulShutdown hooks or tests). */
  readonly hooks: { name: string; run: () => Promise<void> | void }[];
}

export interface StartOptions {
  /** Build the SPA if needed and serve it (default true). */
  client?: boolean;
  /** Fixed admin password for the seed (tests). */
  adminPassword?: string;
  /** Simulator retry delays (tests). */
  simulatorRetryDelaysMs?: readonly number[];
  /** Redis client override (tests). */
  redis?: Redis;
  /** Redis key prefix (tests isolate runs with a random one). */
  redisPrefix?: string;
  logger?: Logger;
}

/**
 * Starts the whole system from a validated environment: database (+ migrations, + demo seed), the
 * Stripe simulator when no STRIPE_SECRET_KEY is set, the mailer, the SPA build, the HTTP server.
 */
export async function startApp(env: AppEnv, options: StartOptions = {}): Promise<Running> {
  const csrfSecret = env.CSRF_SECRET?.reveal() ?? randomBytes(32).toString("base64url");
  const sessionSecret = env.SESSION_SECRET?.reveal() ?? randomBytes(32).toString("base64url");
  const stripeKey = env.STRIPE_SECRET_KEY?.reveal();
  const log =
    options.logger ??
    createLogger({
      level: env.NODE_ENV === "test" ? "warn" : "info",
      secrets: [csrfSecret, sessionSecret, ...(stripeKey ? [stripeKey] : [])],
    });
  const hooks: Running["hooks"] = [];

  const database = await openDatabase({
    databaseUrl: env.DATABASE_URL?.reveal(),
    pgliteDataDir: env.PGLITE_DATA_DIR,
    dangerouslyAllowSuperuserSession: env.NODE_ENV !== "production",
    logger: log,
  });
  hooks.push({ name: "database", run: () => database.close() });
  const seeded =
    env.SEED === "demo" ? await seedDemo(database.db, { adminPassword: options.adminPassword }) : undefined;

  let simulator: StripeSimulator | undefined;
  let stripe: Stripe;
  let webhookSecret: string;
  if (stripeKey) {
    stripe = new Stripe(stripeKey, { maxNetworkRetries: 2 });
    webhookSecret = env.STRIPE_WEBHOOK_SECRET?.reveal() as string;
  } else {
    simulator = await startStripeSimulator({
      ...(options.simulatorRetryDelaysMs ? { retryDelaysMs: options.simulatorRetryDelaysMs } : {}),
    });
    hooks.push({ name: "stripe-simulator", run: () => simulator?.close() });
    stripe = new Stripe(simulator.secretKey, {
      host: simulator.host,
      port: simulator.port,
      protocol: "http",
      maxNetworkRetries: 1,
    });
    webhookSecret = simulator.webhookSecret;
  }

  let redis = options.redis;
  if (!redis && env.REDIS_URL) {
    const { Redis: RedisClient } = await import("ioredis");
    redis = new RedisClient(env.REDIS_URL.reveal(), { lazyConnect: false, maxRetriesPerRequest: 1 });
    const client = redis;
    hooks.push({ name: "redis", run: () => void client.quit() });
  }

  const mailer: Mailer = createMailer({
    db: database.db,
    smtpUrl: env.SMTP_URL?.reveal(),
    from: env.MAIL_FROM,
    onError: (error) => log.error({ err: error }, "sending e-mail failed"),
  });
  hooks.push({ name: "mailer", run: () => mailer.close() });

  const clientDist = options.client === false ? undefined : await ensureClientBuilt((line) => log.info(line));

  // The origin is known once the port is: listen first, then mount the app on the open server.
  const origin = env.PUBLIC_ORIGIN?.replace(/\/$/, "");
  let handler: App["express"] | undefined;
  const server = createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503, { "retry-after": "1" }).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(env.PORT, env.HOST, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = origin ?? `http://${env.HOST.includes(":") ? `[${env.HOST}]` : env.HOST}:${address.port}`;
  const app = await createApp({
    database,
    stripe,
    stripeWebhookSecret: webhookSecret,
    mailer,
    log,
    origin: url,
    csrfSecret,
    sessionSecret,
    corsOrigins:
      env.CORS_ORIGINS?.split(",")
        .map((o) => o.trim())
        .filter(Boolean) ?? [],
    trustProxy: env.TRUST_PROXY,
    ...(redis ? { redis } : {}),
    ...(options.redisPrefix ? { redisPrefix: options.redisPrefix } : {}),
    ...(clientDist ? { clientDist } : {}),
    outboxPage: mailer.mode === "outbox" && env.NODE_ENV !== "production",
  });
  handler = app.express;
  simulator?.setWebhookUrl(`${url}${WEBHOOK_PATH}`);
  hooks.push({ name: "http-server", run: () => new Promise<void>((r) => server.close(() => r())) });
  return { url, app, server, database, simulator, seeded, log, hooks: hooks.reverse() };
}
