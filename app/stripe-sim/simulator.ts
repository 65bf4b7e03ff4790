import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { signStripeWebhook } from "../../src/webhooks/index.js";
import { type FormObject, type FormValue, parseStripeForm } from "./form.js";

/**
 * A local stand-in for the part of the Stripe API the app uses, so the real `stripe` SDK can be
 * exercised end to end without network access: Checkout Sessions (create, retrieve, expire) with
 * Connect destination charges (`payment_intent_data.application_fee_amount` +
 * `transfer_data.destination`, or the `Stripe-Account` header), `Idempotency-Key` replays, a hosted
 * checkout page with a Pay button, and signed `checkout.session.completed` webhooks delivered with
 * retries on failure and optional duplicates. Loopback only.
 */

export interface StripeSimulatorOptions {
  /** Where events are delivered (can be set later with `setWebhookUrl`). */
  webhookUrl?: string;
  /** The endpoint secret events are signed with (default: a fresh `whsec_…`). */
  webhookSecret?: string;
  /** The API key the simulator accepts (default `sk_test_simulator`). */
  secretKey?: string;
  /** Delays between delivery attempts after a failure (default 1 s, 5 s, 15 s, 60 s). */
  retryDelaysMs?: readonly number[];
  /** Extra deliveries of every event after the first success (default 0), as Stripe may do. */
  duplicateDeliveries?: number;
  /** Port on 127.0.0.1 (default 0: any free port). */
  port?: number;
}

export interface Delivery {
  readonly eventId: string;
  readonly attempt: number;
  readonly status: number | "network-error";
  readonly duplicate: boolean;
}

export interface CheckoutSession {
  id: string;
  object: "checkout.session";
  amount_subtotal: number;
  amount_total: number;
  currency: string;
  mode: "payment";
  status: "open" | "complete" | "expired";
  payment_status: "unpaid" | "paid";
  payment_intent: string | null;
  url: string | null;
  success_url: string;
  cancel_url: string;
  metadata: Record<string, string>;
  client_reference_id: string | null;
  customer_email: string | null;
  created: number;
  expires_at: number;
  livemode: false;
  /** Not part of Stripe's session object; kept for the simulator's own checks and tests. */
  connect: {
    destination: string | null;
    stripe_account: string | null;
    application_fee_amount: number | null;
  };
  line_items_summary: { name: string; quantity: number; unit_amount: number }[];
}

export interface StripeEvent {
  id: string;
  object: "event";
  api_version: string;
  created: number;
  type: string;
  account?: string;
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  data: { object: CheckoutSession };
}

export interface StripeSimulator {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly secretKey: string;
  readonly webhookSecret: string;
  readonly deliveries: readonly Delivery[];
  readonly events: readonly StripeEvent[];
  session(id: string): CheckoutSession | undefined;
  setWebhookUrl(url: string): void;
  /** Completes an open session as the hosted page's Pay button does; resolves once delivery settles. */
  pay(sessionId: string): Promise<StripeEvent>;
  /** Delivers an event again (a duplicate), resolving with the receiver's status. */
  redeliver(eventId: string): Promise<number | "network-error">;
  /** Resolves when every queued delivery has finished (succeeded or exhausted its retries). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const API_VERSION = "2026-10-28.endive";
const MAX_BODY_BYTES = 64 * 1024;

function id(prefix: string): string {
  return `${prefix}_${randomBytes(18).toString("base64url").replace(/[-_]/g, "0")}`;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

function str(value: FormValue | undefined, param: string, required = true): string | undefined {
  if (value === undefined) {
    if (required)
      throw new ApiError(400, "invalid_request_error", `Missing required param: ${param}.`, param);
    return undefined;
  }
  if (typeof value !== "string") throw new ApiError(400, "invalid_request_error", `Invalid ${param}.`, param);
  return value;
}

function int(value: FormValue | undefined, param: string, required = true): number | undefined {
  const s = str(value, param, required);
  if (s === undefined) return undefined;
  if (!/^\d{1,12}$/.test(s)) {
    throw new ApiError(400, "invalid_request_error", `Invalid integer: ${param}.`, param);
  }
  return Number(s);
}

function obj(value: FormValue | undefined, param: string): FormObject | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" || Array.isArray(value)) {
    throw new ApiError(400, "invalid_request_error", `Invalid object: ${param}.`, param);
  }
  return value;
}

function httpUrl(value: string | undefined, param: string): string {
  try {
    const u = new URL(value ?? "");
    if (u.protocol === "http:" || u.protocol === "https:") return value as string;
  } catch {}
  throw new ApiError(400, "invalid_request_error", `Not a valid URL: ${param}.`, param);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, "invalid_request_error", "Request body too large."));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Starts the simulator on 127.0.0.1. */
export async function startStripeSimulator(options: StripeSimulatorOptions = {}): Promise<StripeSimulator> {
  const secretKey = options.secretKey ?? "sk_test_simulator";
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(24).toString("base64")}`;
  const retryDelaysMs = options.retryDelaysMs ?? [1_000, 5_000, 15_000, 60_000];
  const duplicates = options.duplicateDeliveries ?? 0;
  let webhookUrl = options.webhookUrl;
  let origin = "";

  const sessions = new Map<string, CheckoutSession>();
  const events: StripeEvent[] = [];
  const deliveries: Delivery[] = [];
  const idempotent = new Map<string, { fingerprint: string; status: number; body: string }>();
  const pending = new Set<Promise<unknown>>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const now = () => Math.floor(Date.now() / 1000);

  function refreshExpiry(session: CheckoutSession): CheckoutSession {
    if (session.status === "open" && session.expires_at <= now()) {
      session.status = "expired";
      session.url = null;
    }
    return session;
  }

  function createSession(params: FormObject, stripeAccount: string | null): CheckoutSession {
    const mode = str(params.mode, "mode");
    if (mode !== "payment")
      throw new ApiError(400, "invalid_request_error", "Only mode=payment is simulated.", "mode");
    const items = params.line_items;
    if (!Array.isArray(items) || items.length === 0) {
      throw new ApiError(400, "invalid_request_error", "Missing required param: line_items.", "line_items");
    }
    let currency: string | undefined;
    let total = 0;
    const summary: CheckoutSession["line_items_summary"] = [];
    items.forEach((raw, i) => {
      const item = obj(raw, `line_items[${i}]`) ?? {};
      const quantity = int(item.quantity, `line_items[${i}][quantity]`) as number;
      const price = obj(item.price_data, `line_items[${i}][price_data]`);
      if (!price) {
        throw new ApiError(
          400,
          "invalid_request_error",
          "Only price_data line items are simulated.",
          "line_items",
        );
      }
      const itemCurrency = str(price.currency, `line_items[${i}][price_data][currency]`) as string;
      if (currency !== undefined && currency !== itemCurrency) {
        throw new ApiError(
          400,
          "invalid_request_error",
          "All line items must share one currency.",
          "line_items",
        );
      }
      currency = itemCurrency;
      const unit = int(price.unit_amount, `line_items[${i}][price_data][unit_amount]`) as number;
      const product = obj(price.product_data, `line_items[${i}][price_data][product_data]`);
      const name = str(product?.name, `line_items[${i}][price_data][product_data][name]`) as string;
      if (quantity < 1 || unit < 1) {
        throw new ApiError(
          400,
          "invalid_request_error",
          "Amounts and quantities must be positive.",
          "line_items",
        );
      }
      total += unit * quantity;
      summary.push({ name, quantity, unit_amount: unit });
    });
    const intent = obj(params.payment_intent_data, "payment_intent_data");
    const fee =
      int(intent?.application_fee_amount, "payment_intent_data[application_fee_amount]", false) ?? null;
    const destination =
      str(
        obj(intent?.transfer_data, "payment_intent_data[transfer_data]")?.destination,
        "destination",
        false,
      ) ?? null;
    if (destination !== null && !/^acct_[A-Za-z0-9]+$/.test(destination)) {
      throw new ApiError(
        400,
        "invalid_request_error",
        "No such destination.",
        "payment_intent_data[transfer_data][destination]",
      );
    }
    if (fee !== null) {
      if (destination === null && stripeAccount === null) {
        throw new ApiError(
          400,
          "invalid_request_error",
          "An application fee needs a connected account (transfer_data.destination or Stripe-Account).",
          "payment_intent_data[application_fee_amount]",
        );
      }
      if (fee > total) {
        throw new ApiError(
          400,
          "invalid_request_error",
          "The application fee exceeds the amount.",
          "payment_intent_data[application_fee_amount]",
        );
      }
    }
    const metadataRaw = obj(params.metadata, "metadata") ?? {};
    const metadata: Record<string, string> = {};
    for (const [key, value] of Object.entries(metadataRaw)) {
      metadata[key] = str(value, `metadata[${key}]`) as string;
    }
    if (Object.keys(metadata).length > 50)
      throw new ApiError(400, "invalid_request_error", "Too many metadata keys.", "metadata");
    const created = now();
    const expiresAt = int(params.expires_at, "expires_at", false) ?? created + 24 * 3600;
    if (expiresAt < created + 30 * 60 - 5 || expiresAt > created + 24 * 3600 + 5) {
      throw new ApiError(
        400,
        "invalid_request_error",
        "expires_at must be 30 minutes to 24 hours from now.",
        "expires_at",
      );
    }
    const sessionId = id("cs_test");
    const session: CheckoutSession = {
      id: sessionId,
      object: "checkout.session",
      amount_subtotal: total,
      amount_total: total,
      currency: currency as string,
      mode: "payment",
      status: "open",
      payment_status: "unpaid",
      payment_intent: null,
      url: `${origin}/c/pay/${sessionId}`,
      success_url: httpUrl(str(params.success_url, "success_url"), "success_url"),
      cancel_url: httpUrl(str(params.cancel_url, "cancel_url"), "cancel_url"),
      metadata,
      client_reference_id: str(params.client_reference_id, "client_reference_id", false) ?? null,
      customer_email: str(params.customer_email, "customer_email", false) ?? null,
      created,
      expires_at: expiresAt,
      livemode: false,
      connect: { destination, stripe_account: stripeAccount, application_fee_amount: fee },
      line_items_summary: summary,
    };
    sessions.set(sessionId, session);
    return session;
  }

  function publicSession(session: CheckoutSession): Omit<CheckoutSession, "connect" | "line_items_summary"> {
    const { connect: _c, line_items_summary: _l, ...rest } = session;
    return rest;
  }

  async function attempt(event: StripeEvent, body: string, n: number, duplicate: boolean) {
    let status: number | "network-error";
    try {
      if (!webhookUrl) throw new Error("no webhook url");
      const signature = await signStripeWebhook({ body, secrets: webhookSecret });
      const response = await fetch(webhookUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
          ...signature,
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      status = response.status;
    } catch {
      status = "network-error";
    }
    deliveries.push({ eventId: event.id, attempt: n, status, duplicate });
    return status;
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    pending.add(promise);
    promise.finally(() => pending.delete(promise)).catch(() => {});
    return promise;
  }

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  }

  async function deliver(event: StripeEvent): Promise<void> {
    const body = JSON.stringify(event, null, 2);
    for (let n = 1; ; n++) {
      const status = await attempt(event, body, n, false);
      if (typeof status === "number" && status >= 200 && status < 300) break;
      const delay = retryDelaysMs[n - 1];
      if (delay === undefined || closed) return;
      await wait(delay);
      if (closed) return;
    }
    for (let d = 0; d < duplicates && !closed; d++) await attempt(event, body, 1, true);
  }

  function complete(session: CheckoutSession): StripeEvent {
    session.status = "complete";
    session.payment_status = "paid";
    session.payment_intent = id("pi");
    session.url = null;
    const event: StripeEvent = {
      id: id("evt"),
      object: "event",
      api_version: API_VERSION,
      created: now(),
      type: "checkout.session.completed",
      ...(session.connect.stripe_account ? { account: session.connect.stripe_account } : {}),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object: publicSession(session) as CheckoutSession },
    };
    events.push(event);
    return event;
  }

  function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) {
    res.writeHead(status, { "content-type": "application/json", "request-id": id("req"), ...extra });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  }

  function html(res: ServerResponse, status: number, body: string) {
    res.writeHead(status, {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy":
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'",
      "cache-control": "no-store",
    });
    res.end(body);
  }

  function checkoutPage(session: CheckoutSession): string {
    const amount = (session.amount_total / 100).toFixed(2);
    const name = escapeHtml(session.line_items_summary.map((l) => l.name).join(", "));
    const cur = escapeHtml(session.currency.toUpperCase());
    const open = session.status === "open";
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Checkout (simulated)</title>
<style>body{font-family:system-ui,sans-serif;background:#f6f9fc;display:flex;justify-content:center;padding:48px}
main{background:#fff;border-radius:12px;box-shadow:0 4px 24px #0001;padding:32px;width:360px}
h1{font-size:18px;margin:0 0 4px}.amount{font-size:32px;font-weight:600;margin:16px 0}
button{background:#635bff;color:#fff;border:0;border-radius:6px;padding:12px;width:100%;font-size:16px;cursor:pointer}
.note{color:#697386;font-size:12px;margin-top:16px}a{color:#635bff}</style></head><body><main>
<p class="note">Stripe Checkout — local simulator (no real payment)</p>
<h1>${name}</h1><div class="amount" data-testid="amount">${cur} ${amount}</div>
${
  open
    ? `<form method="post" action="/c/pay/${escapeHtml(session.id)}/confirm"><button type="submit" id="pay">Pay ${cur} ${amount}</button></form>
<p><a href="${escapeHtml(session.cancel_url)}" id="cancel">Cancel and return</a></p>`
    : `<p id="state">This checkout session is ${escapeHtml(session.status)}.</p>`
}
</main></body></html>`;
  }

  function authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? "";
    const expected = `Bearer ${secretKey}`;
    const a = createHash("sha256").update(header).digest();
    const b = createHash("sha256").update(expected).digest();
    return a.equals(b);
  }

  async function api(req: IncomingMessage, res: ServerResponse, path: string) {
    if (!authorized(req)) throw new ApiError(401, "invalid_request_error", "Invalid API Key provided.");
    const stripeAccount = (req.headers["stripe-account"] as string | undefined) ?? null;
    if (stripeAccount !== null && !/^acct_[A-Za-z0-9]+$/.test(stripeAccount)) {
      throw new ApiError(400, "invalid_request_error", "Invalid Stripe-Account header.");
    }
    const body = req.method === "POST" ? await readBody(req) : "";
    const key = req.headers["idempotency-key"] as string | undefined;
    const fingerprint = createHash("sha256")
      .update(`${req.method} ${path} ${stripeAccount} ${body}`)
      .digest("hex");
    if (key !== undefined && req.method === "POST") {
      const seen = idempotent.get(`${stripeAccount}:${key}`);
      if (seen) {
        if (seen.fingerprint !== fingerprint) {
          throw new ApiError(
            400,
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
          );
        }
        json(res, seen.status, seen.body, { "idempotent-replayed": "true", "idempotency-key": key });
        return;
      }
    }
    const result = route(req.method ?? "GET", path, body, stripeAccount);
    const text = JSON.stringify(result);
    if (key !== undefined && req.method === "POST") {
      idempotent.set(`${stripeAccount}:${key}`, { fingerprint, status: 200, body: text });
    }
    json(res, 200, text, key ? { "idempotency-key": key } : {});
  }

  function route(method: string, path: string, body: string, stripeAccount: string | null): unknown {
    if (method === "POST" && path === "/v1/checkout/sessions") {
      let params: FormObject;
      try {
        params = parseStripeForm(body);
      } catch {
        throw new ApiError(400, "invalid_request_error", "Invalid parameters.");
      }
      return publicSession(createSession(params, stripeAccount));
    }
    const m = /^\/v1\/checkout\/sessions\/(cs_test_[A-Za-z0-9]+)(\/expire)?$/.exec(path);
    const session = m ? sessions.get(m[1] as string) : undefined;
    if (m && (!session || session.connect.stripe_account !== stripeAccount)) {
      throw new ApiError(404, "invalid_request_error", `No such checkout.session: '${m[1]}'`, "session");
    }
    if (session && method === "GET" && !m?.[2]) return publicSession(refreshExpiry(session));
    if (session && method === "POST" && m?.[2]) {
      refreshExpiry(session);
      if (session.status !== "open") {
        throw new ApiError(
          400,
          "invalid_request_error",
          `Only open sessions can be expired; this one is ${session.status}.`,
        );
      }
      session.status = "expired";
      session.url = null;
      return publicSession(session);
    }
    throw new ApiError(404, "invalid_request_error", `Unrecognized request URL (${method}: ${path}).`);
  }

  async function hosted(req: IncomingMessage, res: ServerResponse, path: string) {
    const m = /^\/c\/pay\/(cs_test_[A-Za-z0-9]+)(\/confirm)?$/.exec(path);
    const session = m ? sessions.get(m[1] as string) : undefined;
    if (!m || !session)
      return html(res, 404, "<!doctype html><title>Not found</title><p>No such checkout session.</p>");
    refreshExpiry(session);
    if (req.method === "GET" && !m[2]) return html(res, 200, checkoutPage(session));
    if (req.method === "POST" && m[2]) {
      await readBody(req);
      if (session.status === "open") {
        const event = complete(session);
        track(deliver(event));
      }
      if (session.status === "complete") {
        res.writeHead(303, { location: session.success_url.replaceAll("{CHECKOUT_SESSION_ID}", session.id) });
        res.end();
        return;
      }
      return html(res, 410, checkoutPage(session));
    }
    html(res, 405, "<!doctype html><title>Method not allowed</title>");
  }

  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    try {
      if (path.startsWith("/v1/")) await api(req, res, path);
      else if (path.startsWith("/c/pay/")) await hosted(req, res, path);
      else html(res, 404, "<!doctype html><title>Not found</title>");
    } catch (error) {
      if (error instanceof ApiError) {
        json(res, error.status, {
          error: { type: error.type, message: error.message, ...(error.param ? { param: error.param } : {}) },
        });
      } else if (!res.headersSent) {
        json(res, 500, { error: { type: "api_error", message: "Simulator error." } });
      }
    }
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: origin,
    host: "127.0.0.1",
    port,
    secretKey,
    webhookSecret,
    deliveries,
    events,
    session: (sessionId) => {
      const s = sessions.get(sessionId);
      return s && refreshExpiry(s);
    },
    setWebhookUrl(url) {
      webhookUrl = url;
    },
    async pay(sessionId) {
      const session = sessions.get(sessionId);
      if (!session || refreshExpiry(session).status !== "open")
        throw new Error(`session ${sessionId} is not open`);
      const event = complete(session);
      await track(deliver(event));
      return event;
    },
    async redeliver(eventId) {
      const event = events.find((e) => e.id === eventId);
      if (!event) throw new Error(`no event ${eventId}`);
      return track(attempt(event, JSON.stringify(event, null, 2), 1, true));
    },
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...pending]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
