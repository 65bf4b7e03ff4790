import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import type { GuardsOrOptions } from "../../src/adapters/chain.js";
import { manualClock } from "../../src/core/clock.js";
import { memoryLogger, silentLogger } from "../../src/core/logger.js";
import type { ContinueOutcome } from "../../src/core/outcome.js";
import { viewFromParts } from "../../src/core/request.js";
import { cors } from "../../src/cors/index.js";
import { csrf } from "../../src/csrf/index.js";
import { secureHeaders } from "../../src/headers/index.js";
import { jsonBody } from "../../src/hygiene/index.js";
import { idempotency } from "../../src/idempotency/index.js";
import { requestContextGuard } from "../../src/observe/index.js";
import { type RateLimitStore, rateLimit, rateLimitGuard } from "../../src/ratelimit/index.js";
import { memoryIdempotencyStore, memoryReplayStore } from "../../src/stores/memory/index.js";
import { webhookGuard, webhookVerifier } from "../../src/webhooks/index.js";
import { HARNESSES, type Harness, type Reply, type Running, send } from "./harness.js";

/**
 * Every capability's real guard, through every adapter, on a real loopback server: the same cases
 * against node:http, Express 5, Fastify 5, Hono 4, Next.js route handlers (withGuards) and Next.js
 * middleware. Cases that need the route's response (onResponse) are not registered for Next.js
 * middleware, which never sees it; their titles say so.
 */

const RESPONSE_ONLY = "(needs onResponse: Next.js middleware never sees the route's response)";

function json(reply: Reply): Record<string, unknown> {
  return JSON.parse(reply.body.toString("utf8")) as Record<string, unknown>;
}

function expectProblem(reply: Reply, status: number, code: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers["content-type"]).toBe("application/problem+json");
  expect(json(reply)).toMatchObject({ status, code });
}

const enc = (text: string) => new TextEncoder().encode(text);

/** The nonce inside a Content-Security-Policy header. */
function nonceOf(csp: string | string[] | undefined): string {
  expect(typeof csp).toBe("string");
  const match = /'nonce-([A-Za-z0-9+/_=-]+)'/.exec(String(csp));
  expect(match).not.toBeNull();
  return match![1]!;
}

/** The secure headers the guard sets, besides the CSP (whose nonce changes per response). */
const STATIC_SECURE_HEADERS: Record<string, string> = (() => {
  const outcome = secureHeaders({ logger: silentLogger })(viewFromParts({})) as ContinueOutcome;
  const headers: Record<string, string> = {};
  for (const [name, value] of outcome.headers ?? [])
    if (name !== "content-security-policy") headers[name] = value;
  return headers;
})();

/**
 * Express's own 404 and error pages (finalhandler) set `Content-Security-Policy: default-src 'none'`
 * over the guard's: application headers win over guard headers, and this one is stricter.
 */
const FINALHANDLER_CSP = "default-src 'none'";

function expectSecureHeaders(reply: Reply, csp: "nonce" | typeof FINALHANDLER_CSP = "nonce"): void {
  for (const [name, value] of Object.entries(STATIC_SECURE_HEADERS)) expect(reply.headers[name]).toBe(value);
  if (csp === "nonce")
    expect(reply.headers["content-security-policy"]).toMatch(
      /^default-src 'self'; .*script-src 'self' 'nonce-[A-Za-z0-9+/_=-]{22,24}';/,
    );
  else expect(reply.headers["content-security-policy"]).toBe(csp);
}

/** The Stripe SDK signs deliveries; bulwark verifies them. */
const stripe = new Stripe("sk_test_bulwark_integration");
const WHSEC = "whsec_integration_0123456789abcdef";

/** A Stripe event whose whitespace a JSON re-serialisation would change. */
function stripeEvent(id: string, padding = ""): string {
  return `{\n  "id" : "${id}",\n  "object": "event",\n  "type": "checkout.session.completed",\n  "data": { "object": { "id": "cs_test_1", "amount_total": 4200 } }${padding}\n}`;
}

const CSRF_SECRET = "csrf-integration-secret-0123456789abcdef";

/** A rate-limit store whose every call hangs. */
const hangingStore: RateLimitStore = {
  kind: "hanging",
  consume: () => new Promise(() => {}),
  refund: () => new Promise(() => {}),
  settle: () => new Promise(() => {}),
  reset: () => new Promise(() => {}),
  block: () => new Promise(() => {}),
};

describe.each(HARNESSES.map((h) => [h.name, h] as const))(
  "%s: real capabilities",
  (_name, harness: Harness) => {
    let running: Running | undefined;
    const start = async (...args: GuardsOrOptions) => {
      running = await harness.start(args);
      return running;
    };
    afterEach(async () => {
      await running?.close();
      running = undefined;
    });
    const isMiddleware = !harness.responseAccess;

    // ------------------------------------------------------------------------------------------ rate limit
    describe("rate limit", () => {
      const limiter = () =>
        rateLimit({
          limits: [{ name: "booking", algorithm: "fixed-window", limit: 2, windowMs: 3_600_000 }],
          clock: manualClock(Date.UTC(2026, 0, 1, 10, 0, 0)),
          logger: silentLogger,
        });

      it("admits with RateLimit-Policy and RateLimit, then answers the limit+1-th request 429 ERR_RATELIMIT_EXCEEDED", async () => {
        const app = await start(rateLimitGuard(limiter(), { key: () => "client", logger: silentLogger }));
        const first = await send(app.url, "/ok");
        expect(first.status).toBe(200);
        expect(first.headers["ratelimit-policy"]).toBe('"booking";q=2;w=3600');
        expect(first.headers.ratelimit).toBe('"booking";r=1;t=3600');
        expect((await send(app.url, "/ok")).headers.ratelimit).toBe('"booking";r=0;t=3600');
        const denied = await send(app.url, "/ok");
        expectProblem(denied, 429, "ERR_RATELIMIT_EXCEEDED");
        expect(Number(denied.headers["retry-after"])).toBeGreaterThanOrEqual(1);
        expect(denied.headers["retry-after"]).toBe("3600");
        expect(denied.headers.ratelimit).toBe('"booking";r=0;t=3600');
        expect(denied.headers["ratelimit-policy"]).toBe('"booking";q=2;w=3600');
        expect(app.handled()).toBe(2);
      });

      it("a hanging store with failMode closed answers 503 ERR_RATELIMIT_STORE_UNAVAILABLE", async () => {
        const hanging = rateLimit({
          limits: [{ name: "booking", algorithm: "fixed-window", limit: 2, windowMs: 3_600_000 }],
          store: hangingStore,
          failMode: "closed",
          storeTimeoutMs: 20,
          logger: silentLogger,
        });
        const app = await start(rateLimitGuard(hanging, { key: () => "client", logger: silentLogger }));
        const r = await send(app.url, "/ok");
        expectProblem(r, 503, "ERR_RATELIMIT_STORE_UNAVAILABLE");
        expect(r.headers["retry-after"]).toBe("1");
        expect(app.handled()).toBe(0);
      });
    });

    // ------------------------------------------------------------------------------------- secure headers
    describe("secure headers", () => {
      it("the default set is on a 200, and the CSP nonce differs per response and equals locals.cspNonce", async () => {
        const app = await start(secureHeaders({ logger: silentLogger }));
        const nonces: string[] = [];
        for (let i = 0; i < 2; i++) {
          const r = await send(app.url, "/ok");
          expect(r.status).toBe(200);
          expectSecureHeaders(r);
          const nonce = nonceOf(r.headers["content-security-policy"]);
          expect((json(r).locals as Record<string, unknown>).cspNonce).toBe(nonce);
          nonces.push(nonce);
        }
        expect(nonces[0]).not.toBe(nonces[1]);
      });

      const errorPageCsp = harness.name === "express" ? FINALHANDLER_CSP : "nonce";
      it(`the default set is on the framework's 404 and on the 500 of a throwing handler${harness.notFound ? "" : " (no 404: a Next.js route handler is not involved in one)"}`, async () => {
        const app = await start({ logger: memoryLogger() }, secureHeaders({ logger: silentLogger }));
        if (harness.notFound) {
          const missing = await send(app.url, "/missing");
          expect(missing.status).toBe(404);
          expectSecureHeaders(missing, errorPageCsp);
        }
        const boom = await send(app.url, "/boom");
        expect(boom.status).toBe(500);
        expectSecureHeaders(boom, errorPageCsp);
      });

      it("the default set is on a 429 from a later rate-limit guard", async () => {
        const limiter = rateLimit({
          limits: [{ name: "burst", algorithm: "fixed-window", limit: 1, windowMs: 60_000 }],
          clock: manualClock(Date.UTC(2026, 0, 1, 10, 0, 0)),
          logger: silentLogger,
        });
        const app = await start(
          secureHeaders({ logger: silentLogger }),
          rateLimitGuard(limiter, { key: () => "client", logger: silentLogger }),
        );
        expect((await send(app.url, "/ok")).status).toBe(200);
        const denied = await send(app.url, "/ok");
        expectProblem(denied, 429, "ERR_RATELIMIT_EXCEEDED");
        expectSecureHeaders(denied);
      });

      it.skipIf(isMiddleware)(
        `X-Powered-By is removed from the response${isMiddleware ? " (removeHeaders needs the route's response: Next.js middleware never sees it)" : ""}`,
        async () => {
          const app = await start(secureHeaders({ logger: silentLogger }));
          const r = await send(app.url, "/ok");
          expect(r.status).toBe(200);
          expect(r.headers["x-powered-by"]).toBeUndefined();
        },
      );
    });

    // ----------------------------------------------------------------------------------------------- CORS
    describe("CORS", () => {
      const ORIGIN = "https://app.example.com";
      const corsGuard = () => cors({ origins: [ORIGIN], credentials: true });

      it("an allowed preflight answers 204 with exactly the configured CORS headers", async () => {
        const app = await start(corsGuard());
        const r = await send(app.url, "/ok", {
          method: "OPTIONS",
          headers: {
            origin: ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, x-csrf-token",
          },
        });
        expect(r.status).toBe(204);
        expect(r.body.length).toBe(0);
        const cors = Object.fromEntries(
          Object.entries(r.headers).filter(([name]) => name.startsWith("access-control-")),
        );
        expect(cors).toEqual({
          "access-control-allow-origin": ORIGIN,
          "access-control-allow-credentials": "true",
          "access-control-allow-methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
          "access-control-allow-headers": "content-type, x-csrf-token, idempotency-key",
          "access-control-max-age": "600",
        });
        expect(r.headers.vary).toBe("Origin");
        expect(app.handled()).toBe(0);
      });

      it("a disallowed preflight answers 403 ERR_CORS_PREFLIGHT_REJECTED without CORS headers", async () => {
        const app = await start(corsGuard());
        const r = await send(app.url, "/ok", {
          method: "OPTIONS",
          headers: { origin: "https://evil.example.net", "access-control-request-method": "POST" },
        });
        expectProblem(r, 403, "ERR_CORS_PREFLIGHT_REJECTED");
        expect(Object.keys(r.headers).filter((name) => name.startsWith("access-control-"))).toEqual([]);
        expect(app.handled()).toBe(0);
      });

      it("a simple request gets Vary: Origin, and the allowed origin its CORS headers", async () => {
        const app = await start(corsGuard());
        const allowed = await send(app.url, "/ok", { headers: { origin: ORIGIN } });
        expect(allowed.status).toBe(200);
        expect(allowed.headers.vary).toBe("Origin");
        expect(allowed.headers["access-control-allow-origin"]).toBe(ORIGIN);
        expect(allowed.headers["access-control-allow-credentials"]).toBe("true");
        expect(allowed.headers["access-control-expose-headers"]).toBe(
          "RateLimit, RateLimit-Policy, Retry-After",
        );
        const other = await send(app.url, "/ok", { headers: { origin: "https://evil.example.net" } });
        expect(other.status).toBe(200);
        expect(other.headers.vary).toBe("Origin");
        expect(other.headers["access-control-allow-origin"]).toBeUndefined();
      });
    });

    // ----------------------------------------------------------------------------------------------- CSRF
    describe("CSRF", () => {
      const csrfGuard = () => csrf({ secrets: [CSRF_SECRET], logger: silentLogger });

      /** Fetches a token and the session cookie from the token endpoint. */
      async function token(url: string): Promise<{ token: string; cookie: string }> {
        const r = await send(url, "/csrf-token", { headers: { "sec-fetch-site": "same-origin" } });
        expect(r.status).toBe(200);
        expect(r.headers["cache-control"]).toBe("no-store");
        const cookies = r.headers["set-cookie"] ?? [];
        expect(cookies).toHaveLength(1);
        expect(cookies[0]).toMatch(/^__Host-bulwark-csrf=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
        return { token: (json(r) as { token: string }).token, cookie: cookies[0]!.split(";")[0]! };
      }

      it("a cross-site POST answers 403 ERR_CSRF_ORIGIN_MISMATCH", async () => {
        const app = await start(csrfGuard());
        const r = await send(app.url, "/locals", {
          method: "POST",
          headers: { "sec-fetch-site": "cross-site", origin: "https://evil.example.net" },
        });
        expectProblem(r, 403, "ERR_CSRF_ORIGIN_MISMATCH");
        expect(app.handled()).toBe(0);
      });

      it("a same-origin POST without a token answers 403 ERR_CSRF_TOKEN_MISSING", async () => {
        const app = await start(csrfGuard());
        const r = await send(app.url, "/locals", {
          method: "POST",
          headers: { "sec-fetch-site": "same-origin", "content-type": "application/json" },
          body: enc("{}"),
        });
        expectProblem(r, 403, "ERR_CSRF_TOKEN_MISSING");
        expect(app.handled()).toBe(0);
      });

      it("a token from the token endpoint, sent in the header with its cookie, passes", async () => {
        const app = await start(csrfGuard());
        const t = await token(app.url);
        const r = await send(app.url, "/locals", {
          method: "POST",
          headers: {
            "sec-fetch-site": "same-origin",
            "content-type": "application/json",
            "x-csrf-token": t.token,
            cookie: t.cookie,
          },
          body: enc('{"day":"mon"}'),
        });
        expect(r.status).toBe(200);
        expect(app.handled()).toBe(1);
        const stolen = await send(app.url, "/locals", {
          method: "POST",
          headers: { "sec-fetch-site": "same-origin", "x-csrf-token": t.token },
        });
        expectProblem(stolen, 403, "ERR_CSRF_TOKEN_INVALID");
      });

      it("a token in the _csrf field of an urlencoded form passes", async () => {
        const app = await start(csrfGuard());
        const t = await token(app.url);
        const r = await send(app.url, "/locals", {
          method: "POST",
          headers: {
            origin: new URL(app.url).origin,
            "content-type": "application/x-www-form-urlencoded",
            cookie: t.cookie,
          },
          body: enc(`day=mon&_csrf=${encodeURIComponent(t.token)}`),
        });
        expect(r.status).toBe(200);
        expect(app.handled()).toBe(1);
        const wrong = await send(app.url, "/locals", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", cookie: t.cookie },
          body: enc("day=mon&_csrf=forged"),
        });
        expectProblem(wrong, 403, "ERR_CSRF_TOKEN_INVALID");
        expect(app.handled()).toBe(1);
      });
    });

    // ------------------------------------------------------------------------------------------- webhooks
    describe("webhooks", () => {
      const guard = () =>
        webhookGuard(
          webhookVerifier({
            provider: "stripe",
            secrets: [WHSEC],
            replayStore: memoryReplayStore(),
            logger: silentLogger,
          }),
          { maxBytes: 1024, logger: silentLogger },
        );
      const deliver = (url: string, payload: string, signature: string) =>
        send(url, "/locals", {
          method: "POST",
          headers: { "content-type": "application/json", "stripe-signature": signature },
          body: enc(payload),
        });

      it(`a Stripe-signed delivery is verified on its exact bytes; a replay is 200 duplicate without the handler${isMiddleware ? " (locals.webhook not checked: middleware forwards string locals only)" : ""}`, async () => {
        const app = await start(guard());
        const payload = stripeEvent("evt_integration_1");
        expect(JSON.stringify(JSON.parse(payload))).not.toBe(payload);
        const signature = stripe.webhooks.generateTestHeaderString({ payload, secret: WHSEC });
        const first = await deliver(app.url, payload, signature);
        expect(first.status).toBe(200);
        expect(app.handled()).toBe(1);
        if (!isMiddleware) {
          // Next.js middleware forwards string locals only; the event object stays in the middleware.
          const webhook = (json(first).locals as { webhook: Record<string, unknown> }).webhook;
          expect(webhook.id).toBe("evt_integration_1");
          expect(webhook.event).toEqual(JSON.parse(payload));
        }
        const replay = await deliver(app.url, payload, signature);
        expect(replay.status).toBe(200);
        expect(replay.headers["content-type"]).toBe("application/json");
        expect(json(replay)).toEqual({ received: true, duplicate: true });
        expect(app.handled()).toBe(1);
      });

      it("a tampered body answers the uniform 400 ERR_WEBHOOK_VERIFICATION_FAILED", async () => {
        const app = await start(guard());
        const payload = stripeEvent("evt_integration_2");
        const signature = stripe.webhooks.generateTestHeaderString({ payload, secret: WHSEC });
        const r = await deliver(app.url, payload.replace("4200", "4201"), signature);
        expectProblem(r, 400, "ERR_WEBHOOK_VERIFICATION_FAILED");
        const compact = await deliver(app.url, JSON.stringify(JSON.parse(payload)), signature);
        expectProblem(compact, 400, "ERR_WEBHOOK_VERIFICATION_FAILED");
        expect(app.handled()).toBe(0);
      });

      it("a delivery over maxBytes answers 413 ERR_WEBHOOK_BODY_TOO_LARGE, by Content-Length and chunked", async () => {
        const app = await start(guard());
        const payload = stripeEvent("evt_integration_3", " ".repeat(2048));
        const signature = stripe.webhooks.generateTestHeaderString({ payload, secret: WHSEC });
        for (const chunkBytes of [undefined, 512]) {
          const r = await send(app.url, "/locals", {
            method: "POST",
            headers: { "content-type": "application/json", "stripe-signature": signature },
            body: enc(payload),
            ...(chunkBytes === undefined ? {} : { chunkBytes }),
          });
          expectProblem(r, 413, "ERR_WEBHOOK_BODY_TOO_LARGE");
          expect(r.headers.connection).toBe("close");
        }
        expect(app.handled()).toBe(0);
      });
    });

    // ---------------------------------------------------------------------------------------- idempotency
    describe("idempotency", () => {
      const post = (url: string, body: string) =>
        send(url, "/locals", {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": '"key-1"' },
          body: enc(body),
        });

      it.skipIf(isMiddleware)(
        `a retried POST replays status, headers and body; another body with the key is 422${isMiddleware ? ` ${RESPONSE_ONLY}` : ""}`,
        async () => {
          const app = await start(idempotency({ store: memoryIdempotencyStore(), scope: () => "tenant-1" }));
          const first = await post(app.url, '{"amount":42}');
          expect(first.status).toBe(200);
          expect(first.headers["idempotent-replayed"]).toBeUndefined();
          expect(json(first).n).toBe(1);
          let replay = await post(app.url, '{"amount":42}');
          // The response is stored once it has been sent; a retry racing that write is told to wait.
          for (let i = 0; i < 20 && replay.status === 409; i++) {
            await new Promise((r) => setTimeout(r, 10));
            replay = await post(app.url, '{"amount":42}');
          }
          expect(replay.status).toBe(200);
          expect(replay.headers["idempotent-replayed"]).toBe("true");
          expect(replay.headers["x-app"]).toBe("1");
          expect(replay.headers["content-type"]).toBe(first.headers["content-type"]);
          expect(replay.body.equals(first.body)).toBe(true);
          expect(app.handled()).toBe(1);
          const reused = await post(app.url, '{"amount":43}');
          expectProblem(reused, 422, "ERR_IDEMPOTENCY_KEY_REUSED");
          expect(app.handled()).toBe(1);
        },
      );
    });

    // -------------------------------------------------------------------------------------- observability
    describe("observability", () => {
      it("a valid incoming X-Request-Id is kept and echoed; an invalid one is replaced", async () => {
        const app = await start(requestContextGuard());
        const kept = await send(app.url, "/ctx", { headers: { "x-request-id": "req-42.abc" } });
        expect(kept.status).toBe(200);
        expect(kept.headers["x-request-id"]).toBe("req-42.abc");
        expect((json(kept).locals as Record<string, unknown>).requestId).toBe("req-42.abc");
        const replaced = await send(app.url, "/ctx", { headers: { "x-request-id": "bad id <script>" } });
        expect(replaced.status).toBe(200);
        expect(replaced.headers["x-request-id"]).toMatch(
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        );
        expect((json(replaced).locals as Record<string, unknown>).requestId).toBe(
          replaced.headers["x-request-id"],
        );
      });

      const concurrentTitle = isMiddleware
        ? "20 concurrent requests each see their own id in the route through forwarded locals (middleware runs in another context than the route, so requestContext() there is not the route's)"
        : "20 concurrent requests each see their own id via currentRequestId() before and after an await";
      it(concurrentTitle, async () => {
        const app = await start(requestContextGuard());
        const ids = Array.from({ length: 20 }, (_, i) => `concurrent-${i}`);
        const replies = await Promise.all(
          ids.map((id) => send(app.url, "/ctx", { headers: { "x-request-id": id } })),
        );
        replies.forEach((r, i) => {
          expect(r.status).toBe(200);
          expect(r.headers["x-request-id"]).toBe(ids[i]);
          const seen = json(r) as { before?: string; after?: string; locals: Record<string, unknown> };
          expect(seen.locals.requestId).toBe(ids[i]);
          if (!isMiddleware) expect([seen.before, seen.after]).toEqual([ids[i], ids[i]]);
        });
      });
    });

    // ------------------------------------------------------------------------------------------- hygiene
    describe("hygiene", () => {
      const post = (url: string, body: string) =>
        send(url, "/locals", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: enc(body),
        });

      it(`jsonBody refuses __proto__ with 400 ERR_JSON_PROTOTYPE_POLLUTION and oversized JSON with 413${isMiddleware ? " (locals.body not checked: middleware forwards string locals only)" : ""}`, async () => {
        const app = await start(jsonBody({ maxBytes: 64 }));
        expectProblem(
          await post(app.url, '{"a":1,"__proto__":{"admin":true}}'),
          400,
          "ERR_JSON_PROTOTYPE_POLLUTION",
        );
        expectProblem(
          await post(app.url, JSON.stringify({ pad: "x".repeat(100) })),
          413,
          "ERR_BODY_TOO_LARGE",
        );
        expect(app.handled()).toBe(0);
        const ok = await post(app.url, '{"a":1}');
        expect(ok.status).toBe(200);
        if (!isMiddleware) expect((json(ok).locals as Record<string, unknown>).body).toEqual({ a: 1 });
        expect(app.handled()).toBe(1);
      });
    });
  },
);
