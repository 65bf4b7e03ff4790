import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type Stripe from "stripe";
import type { AuthKit } from "./auth/kit.js";
import type { Database } from "./db/schema.js";
import type { Mailer } from "./mail/outbox.js";

/** What the services need, injected once by createApp. */
export interface AppContext {
  readonly db: Kysely<Database>;
  readonly stripe: Stripe;
  readonly mailer: Mailer;
  /** The origin browsers use; links in e-mails and Stripe redirects are built on it. */
  readonly origin: string;
  /** bulwark/auth: passwords, access and refresh tokens, one-time links. */
  readonly auth: AuthKit;
  readonly log: Logger;
  /** Current time (injectable for tests). */
  now(): Date;
}

export const REGISTRATION_TTL_MS = 7 * 24 * 3600 * 1000;
/** A pending Checkout Session younger than this is offered again instead of creating another. */
export const CHECKOUT_REUSE_MS = 30 * 60 * 1000;
/** Stripe's minimum session lifetime is 30 minutes; ours live a little longer than the reuse window. */
export const CHECKOUT_LIFETIME_SECONDS = 35 * 60;
