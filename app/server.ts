import { loadConfigOrExit } from "../src/config/index.js";
import { gracefulShutdown } from "../src/observe/index.js";
import { env } from "./env.js";
import { startApp } from "./start.js";

/**
 * `npm start`: the music school's Meet & Greet, payment and registration system on embedded
 * defaults (PGlite, memory counters, the local Stripe simulator, the outbox page) — or on real
 * PostgreSQL, Redis, SMTP and Stripe when their variables are set (see docs/app.md).
 */
const config = loadConfigOrExit(env);
const running = await startApp(config);
const { url, seeded, simulator, log } = running;

gracefulShutdown(running.server, {
  health: running.app.health,
  hooks: running.hooks.filter((h) => h.name !== "http-server").reverse(),
  logger: log,
});

const lines = [
  "",
  `  Music school running at ${url}`,
  "",
  ...(seeded ?? []).flatMap((s) => [
    `  ${s.name}: book at ${url}/book/${s.slug}`,
    `    admin login: ${s.admin.email} / ${s.admin.password}`,
  ]),
  ...(seeded ? [""] : []),
  simulator
    ? `  Stripe: local simulator at ${simulator.url} (set STRIPE_SECRET_KEY for real Stripe)`
    : "  Stripe: live API",
  running.app.context.mailer.mode === "outbox"
    ? `  E-mail: outbox page at ${url}/outbox (set SMTP_URL to send)`
    : "  E-mail: SMTP",
  `  Database: ${running.database.kind}${config.DATABASE_URL ? "" : " (in process; set DATABASE_URL for PostgreSQL)"}`,
  "",
];
process.stdout.write(`${lines.join("\n")}\n`);
