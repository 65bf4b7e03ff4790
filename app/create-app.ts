import express, { type NextFunction, type Request, type Response } from "express";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type Stripe from "stripe";
import { protect } from "../src/adapters/express/index.js";
import type { Clock } from "../src/core/clock.js";
import { isBulwarkError } from "../src/core/errors.js";
import { cors } from "../src/cors/index.js";
import { csrf } from "../src/csrf/index.js";
import { secureHeaders } from "../src/headers/index.js";
import { type IdempotencyStore, idempotency, type ProcessLedger } from "../src/idempotency/index.js";
import {
  errorHandler,
  type Health,
  health,
  postgresCheck,
  redisCheck,
  requestContextGuard,
} from "../src/observe/index.js";
import { loginGuard, type RateLimitStore, rateLimit, rateLimitGuard } from "../src/ratelimit/index.js";
import { memoryReplayStore, memoryStore } from "../src/stores/memory/index.js";
import { postgresIdempotencyStore, postgresLedger } from "../src/stores/postgres/index.js";
import {
  redisIdempotencyStore,
  redisLedger,
  redisReplayStore,
  redisStore,
} from "../src/stores/redis/index.js";
import { webhookVerifier } from "../src/webhooks/index.js";
import { createAuthKit } from "./auth/kit.js";
import type { AppContext } from "./context.js";
import type { AppDatabase } from "./db/database.js";
import { HttpProblem, problems, sendProblem } from "./http-problem.js";
import type { Mailer } from "./mail/outbox.js";
import { accountRoutes } from "./routes/accounts.js";
import { adminRoutes } from "./routes/admin.js";
import { outboxRoutes, spaRoutes } from "./routes/pages.js";
import { publicRoutes } from "./routes/public.js";
import { registrationRoutes } from "./routes/registration.js";
import { ipResolver } from "./routes/util.js";
import { WEBHOOK_PATH, webhookRoutes } from "./routes/webhook.js";
import { sendPasswordReset, sessionFamily } from "./services/accounts.js";
import { hashToken } from "./tokens.js";

export interface CreateAppOptions {
  database: AppDatabase;
  stripe: Stripe;
  stripeWebhookSecret: string;
  mailer: Mailer;
  log: Logger;
  /** The origin browsers use (scheme://host:port). */
  origin: string;
  csrfSecret: string;
  sessionSecret: string;
  /** Extra origins allowed by CORS and CSRF (separate front-ends). */
  corsOrigins?: readonly string[];
  /** Proxy hops in front of the app (0: the TCP peer is the client). */
  trustProxy?: number;
  /** Redis for counters, replay and idempotency state; absent → memory + the database. */
  redis?: Redis;
  /** Prefix of every Redis key the app writes (default "school:"). */
  redisPrefix?: string;
  /** Built SPA directory; absent → no pages (API only). */
  clientDist?: string;
  /** Serve the /outbox page (development, no SMTP). */
  outboxPage?: boolean;
  /** Injected time for limits and tokens (tests). */
  clock?: Clock;
  now?: () => Date;
}

export interface App {
  readonly express: express.Express;
  readonly context: AppContext;
  readonly health: Health;
  readonly ledger: ProcessLedger;
}

/** Wires bulwark's protections and the music school's routes into one Express 5 application. */
export async function createApp(options: CreateAppOptions): Promise<App> {
  const { database, log } = options;
  const clock = options.clock;
  const secure = options.origin.startsWith("https://");
  const trustProxy = options.trustProxy ?? 0;
  const redis = options.redis;
  const redisPrefix = options.redisPrefix ?? "school:";

  // --- state behind the protections: Redis when configured, else memory + the app database ---
  const counters = (prefix: string): RateLimitStore =>
    redis
      ? redisStore({ client: redis, prefix: `${redisPrefix}${prefix}` })
      : memoryStore({ ...(clock ? { clock } : {}) });
  let ledger: ProcessLedger;
  if (redis) ledger = redisLedger({ redis, prefix: `${redisPrefix}ledger:` });
  else {
    const pgLedger = postgresLedger({ client: database.client });
    await pgLedger.migrate();
    ledger = pgLedger;
  }
  let idempotencyStore: IdempotencyStore;
  if (redis) idempotencyStore = redisIdempotencyStore({ redis, prefix: `${redisPrefix}idem:` });
  else {
    const pgStore = postgresIdempotencyStore({ client: database.client });
    await pgStore.migrate();
    idempotencyStore = pgStore;
  }

  const rateLimitOptions = { trustProxy: trustProxy > 0 ? trustProxy : (false as const), logger: log };
  const bookingLimit = rateLimitGuard(
    rateLimit({
      store: counters("booking:"),
      limits: [{ name: "booking", algorithm: "sliding-window", limit: 5, windowMs: 3_600_000 }],
      logger: log,
      ...(clock ? { clock } : {}),
    }),
    { ...rateLimitOptions, ...(clock ? { clock } : {}) },
  );
  const paymentLimit = rateLimitGuard(
    rateLimit({
      store: counters("payment:"),
      limits: [{ name: "payment", algorithm: "sliding-window", limit: 10, windowMs: 60_000 }],
      logger: log,
      ...(clock ? { clock } : {}),
    }),
    { ...rateLimitOptions, ...(clock ? { clock } : {}) },
  );
  const resetLimit = rateLimitGuard(
    rateLimit({
      store: counters("reset:"),
      limits: [{ name: "reset", algorithm: "sliding-window", limit: 5, windowMs: 3_600_000 }],
      logger: log,
      ...(clock ? { clock } : {}),
    }),
    { ...rateLimitOptions, ...(clock ? { clock } : {}) },
  );
  const logins = loginGuard({
    store: counters("login:"),
    maxFailures: 5,
    windowMs: 15 * 60_000,
    lockoutMs: 30 * 60_000,
    logger: log,
    ...(clock ? { clock } : {}),
  });
  // The app's context; `ctx` is read by the password-reset work only after it is assigned below.
  let ctx!: AppContext;
  const auth = await createAuthKit({
    db: database.db,
    client: database.client,
    sessionSecret: options.sessionSecret,
    origin: options.origin,
    throttle: logins,
    logger: log,
    resetWork: (email) => sendPasswordReset(ctx, email),
  });
  ctx = {
    db: database.db,
    stripe: options.stripe,
    mailer: options.mailer,
    origin: options.origin,
    auth,
    log,
    now: options.now ?? (clock ? () => new Date(clock.now()) : () => new Date()),
  };
  // The Idempotency-Key of a checkout belongs to the registration link it pays: one family can
  // never replay another's answer. The link's token is in the JSON body; its hash is the scope.
  const checkoutIdempotency = idempotency({
    store: idempotencyStore,
    required: true,
    logger: log,
    scope: async (view) => {
      const raw = await view.rawBody?.(4 * 1024);
      const token = raw
        ? (JSON.parse(new TextDecoder().decode(raw)) as { token?: unknown }).token
        : undefined;
      if (typeof token !== "string" || token.length === 0) throw new Error("no registration token");
      return `registration:${hashToken(token)}`;
    },
  });
  const verifier = webhookVerifier({
    provider: "stripe",
    secrets: [options.stripeWebhookSecret],
    replayStore: redis ? redisReplayStore({ redis, prefix: `${redisPrefix}whreplay:` }) : memoryReplayStore(),
    logger: log,
    ...(clock ? { clock } : {}),
  });

  const probes = health({
    checks: [
      postgresCheck(database.client, { name: database.kind }),
      ...(redis ? [redisCheck(redis, { name: "redis" })] : []),
    ],
    logger: log,
  });

  const trusted = [...new Set([options.origin, ...(options.corsOrigins ?? [])])];
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", trustProxy);
  app.use(
    protect(
      { logger: log },
      requestContextGuard(),
      secureHeaders({
        contentSecurityPolicy: secure ? {} : { directives: { upgradeInsecureRequests: null } },
        strictTransportSecurity: secure ? undefined : false,
        logger: log,
      }),
      cors({ origins: trusted, credentials: true }),
      probes.guard,
      csrf({
        secrets: [options.csrfSecret],
        exemptPaths: [WEBHOOK_PATH],
        trustedOrigins: trusted.filter((o) => o !== options.origin),
        publicOrigins: [options.origin],
        // Bind CSRF tokens to the login (refresh family) when there is one; anonymous otherwise.
        sessionId: (view) => sessionFamily(ctx, ctx.auth.accessCookie.read(view)),
        logger: log,
      }),
    ),
  );

  // One access-log line per request, through the redacting logger: tokens in links
  // (`/register?token=…`) never reach the log.
  app.use((req, res, next) => {
    const started = performance.now();
    res.on("finish", () => {
      log.info(
        {
          method: req.method,
          url: req.originalUrl,
          status: res.statusCode,
          ms: Math.round(performance.now() - started),
        },
        "request",
      );
    });
    next();
  });
  app.use(webhookRoutes(ctx, { verifier, ledger, log }));
  app.use(publicRoutes(ctx, { bookingLimit }));
  app.use(accountRoutes(ctx, { resetLimit, clientIp: ipResolver(trustProxy) }));
  app.use(adminRoutes(ctx));
  app.use(registrationRoutes(ctx, { paymentLimit, checkoutIdempotency }));
  if (options.outboxPage) app.use(outboxRoutes(database.db));
  app.use("/api", (_req, _res, next) => next(problems.notFound()));
  if (options.clientDist) app.use(spaRoutes(options.clientDist));

  const internal = errorHandler({ logger: log });
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (error instanceof HttpProblem) return sendProblem(res, error);
    // A capability shedding load (the password hasher's bound, a store outage): retryable 503.
    if (isBulwarkError(error) && error.status === 503) {
      res.set("retry-after", "1");
      return sendProblem(res, new HttpProblem(503, error.code, "Service busy, try again"));
    }
    const out = internal(error);
    res.status(out.status);
    for (const [name, value] of out.headers) res.set(name, value);
    res.send(out.body);
  });

  return { express: app, context: ctx, health: probes, ledger };
}
