import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manualClock } from "../../src/core/clock.js";
import { silentLogger } from "../../src/core/logger.js";
import { CONTINUE, type Guard } from "../../src/core/outcome.js";
import { cors } from "../../src/cors/index.js";
import { csrf } from "../../src/csrf/index.js";
import { secureHeaders } from "../../src/headers/index.js";
import { type GuardedServer, guardedServer } from "./harness.js";

/**
 * Real-browser proof of the browser-facing protections: Debian's chromium, two loopback origins
 * (the app on 127.0.0.1, an attacker on localhost — different sites), the browser client bundled
 * with esbuild. Outside CI a missing chromium skips loudly; under CI it fails.
 */

const CHROMIUM = "/usr/bin/chromium";
const CI = process.env.CI === "true" || process.env.CI === "1";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM && !CI) {
  console.warn(
    `\n!!! SKIPPING browser suite: ${CHROMIUM} not found. Install it with: apt-get install -y chromium\n`,
  );
}

const MAX_AGE_SECONDS = 600;
const clientEntry = fileURLToPath(new URL("../../src/csrf/client/index.ts", import.meta.url));

async function bundle(globalName: string, footer = ""): Promise<string> {
  const result = await build({
    entryPoints: [clientEntry],
    bundle: true,
    write: false,
    format: "iife",
    globalName,
    platform: "browser",
    target: "es2020",
    logLevel: "silent",
  });
  return `${result.outputFiles[0]?.text ?? ""}\n${footer}`;
}

const WORKER_MAIN = `
self.onmessage = async () => {
  const csrfFetch = BulwarkCsrf.createCsrfFetch({ tokenUrl: "/csrf-token" });
  const response = await csrfFetch("/api/transfer", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  self.postMessage(response.status);
};`;

function page(nonce: string, token: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>app</title>
<script nonce="${nonce}">
  window.__violations = [];
  document.addEventListener("securitypolicyviolation", (e) => window.__violations.push({
    effective: e.effectiveDirective, blocked: e.blockedURI, disposition: e.disposition }));
  window.__nonceRan = true;
</script>
<script src="/client.js"></script>
<script src="/client-copy.js"></script>
</head><body>
<form id="pay" method="POST" action="/form">
  <input type="hidden" name="_csrf" value="${token}"><input name="amount" value="5"><button>pay</button>
</form>
<div id="comment"><script>window.__injected = true;</script></div>
</body></html>`;
}

describe.runIf(HAVE_CHROMIUM || CI)("browser-facing protections in chromium", () => {
  const clock = manualClock();
  let browser: Browser;
  let app: GuardedServer;
  let attacker: GuardedServer;
  let appOrigin: string;
  let attackerOrigin: string;
  let tokenRequests = 0;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`chromium is required under CI but ${CHROMIUM} is missing`);
    const [client, clientCopy, worker] = await Promise.all([
      bundle("BulwarkCsrf"),
      bundle("BulwarkCsrfCopy"),
      bundle("BulwarkCsrf", WORKER_MAIN),
    ]);
    const countTokens: Guard = (view) => {
      if (view.path === "/csrf-token") tokenRequests++;
      return CONTINUE;
    };
    app = await guardedServer(
      "127.0.0.1",
      [
        secureHeaders({ logger: silentLogger }),
        cors({ origins: ["http://127.0.0.1:1"], credentials: true }),
        countTokens,
        csrf({
          secrets: "browser-suite-secret-of-at-least-32-bytes",
          clock,
          maxAgeSeconds: MAX_AGE_SECONDS,
          logger: silentLogger,
        }),
      ],
      async (_req, res, { view, locals, body }) => {
        const send = (status: number, type: string, text: string) => {
          res.writeHead(status, { "content-type": type });
          res.end(text);
        };
        const route = `${view.method} ${view.path}`;
        if (route === "GET /")
          return send(200, "text/html", page(locals.cspNonce as string, locals.csrfToken as string));
        if (route === "GET /client.js") return send(200, "text/javascript", client);
        if (route === "GET /client-copy.js") return send(200, "text/javascript", clientCopy);
        if (route === "GET /worker.js") return send(200, "text/javascript", worker);
        if (route === "POST /api/transfer")
          return send(200, "application/json", JSON.stringify({ ok: true }));
        if (route === "POST /form") {
          await body();
          return send(200, "text/html", "<!doctype html><p id=done>done</p>");
        }
        send(404, "text/plain", "not found");
      },
    );
    attacker = await guardedServer("127.0.0.1", [], (_req, res, { view }) => {
      res.writeHead(200, { "content-type": "text/html" });
      if (view.path === "/form-attack") {
        res.end(`<!doctype html><form id="f" method="POST" action="${appOrigin}/form">
          <input name="_csrf" value="forged"><input name="amount" value="1000"></form>
          <script>document.getElementById("f").submit()</script>`);
      } else res.end("<!doctype html><p>attacker</p>");
    });
    appOrigin = `http://127.0.0.1:${app.port}`;
    attackerOrigin = `http://localhost:${attacker.port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
      ],
    });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await app?.close();
    await attacker?.close();
  });

  async function visitApp(): Promise<{ page: Page; console: string[] }> {
    const context = await browser.newContext();
    contexts.push(context);
    const p = await context.newPage();
    const messages: string[] = [];
    p.on("console", (m) => messages.push(`${m.type()}: ${m.text()}`));
    const response = await p.goto(`${appOrigin}/`);
    expect(response?.status()).toBe(200);
    return { page: p, console: messages };
  }

  const newRefusals = (from: number) => app.refusals.slice(from);

  it("blocks a cross-site form post before the handler runs", async () => {
    const { page: p } = await visitApp();
    const refusalsBefore = app.refusals.length;
    const posted = p.waitForResponse((r) => r.url() === `${appOrigin}/form`);
    await p.goto(`${attackerOrigin}/form-attack`);
    const response = await posted;
    expect(response.status()).toBe(403);
    expect(response.headers()["content-type"]).toBe("application/problem+json");
    // Secure headers ride on the refusal too (the headers guard ran before the CSRF guard answered).
    expect(response.headers()["x-content-type-options"]).toBe("nosniff");
    expect(response.headers()["content-security-policy"]).toMatch(/^default-src 'self';/);
    expect(response.headers().vary).toBe("Origin");
    expect(newRefusals(refusalsBefore)).toEqual([
      { method: "POST", path: "/form", status: 403, code: "ERR_CSRF_ORIGIN_MISMATCH" },
    ]);
    expect(app.handled).not.toContain("POST /form");
  });

  it("blocks a cross-site credentialed fetch, simple or preflighted", async () => {
    const { page: p } = await visitApp();
    await p.goto(`${attackerOrigin}/`);
    const refusalsBefore = app.refusals.length;
    const handledBefore = app.handled.length;
    const outcome = await p.evaluate(async (url) => {
      const attempt = async (init: RequestInit) => {
        try {
          const r = await fetch(url, { method: "POST", credentials: "include", ...init });
          return `status ${r.status}`;
        } catch (e) {
          return `blocked ${(e as Error).name}`;
        }
      };
      return [
        await attempt({ body: "amount=1000" }),
        await attempt({ body: '{"amount":1000}', headers: { "content-type": "application/json" } }),
      ];
    }, `${appOrigin}/api/transfer`);
    expect(outcome).toEqual(["blocked TypeError", "blocked TypeError"]);
    expect(newRefusals(refusalsBefore)).toEqual([
      { method: "POST", path: "/api/transfer", status: 403, code: "ERR_CSRF_ORIGIN_MISMATCH" },
      { method: "OPTIONS", path: "/api/transfer", status: 403, code: "ERR_CORS_PREFLIGHT_REJECTED" },
    ]);
    expect(app.handled.slice(handledBefore)).toEqual([]);
  });

  it("lets the same-origin page's fetches and its server-rendered form through", async () => {
    const { page: p } = await visitApp();
    const refusalsBefore = app.refusals.length;
    const result = await p.evaluate(async () => {
      const csrfFetch = (
        window as never as { BulwarkCsrf: typeof import("../../src/csrf/client/index.js") }
      ).BulwarkCsrf.createCsrfFetch({
        tokenUrl: "/csrf-token",
      });
      const r = await csrfFetch("/api/transfer", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"amount":5}',
      });
      return [r.status, await r.json()];
    });
    expect(result).toEqual([200, { ok: true }]);
    const [navigation] = await Promise.all([p.waitForNavigation(), p.click("#pay button")]);
    expect(navigation?.status()).toBe(200);
    expect(await p.textContent("#done")).toBe("done");
    expect(newRefusals(refusalsBefore)).toEqual([]);
  });

  it("fetches one token for 20 parallel requests from two separately bundled clients", async () => {
    const { page: p } = await visitApp();
    const before = tokenRequests;
    const statuses = await p.evaluate(async () => {
      type Client = typeof import("../../src/csrf/client/index.js");
      const w = window as never as { BulwarkCsrf: Client; BulwarkCsrfCopy: Client };
      const a = w.BulwarkCsrf.createCsrfFetch({ tokenUrl: "/csrf-token" });
      const b = w.BulwarkCsrfCopy.createCsrfFetch({ tokenUrl: "/csrf-token" });
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? a : b)("/api/transfer", { method: "POST", body: String(i) }),
        ),
      );
      return responses.map((r) => r.status);
    });
    expect(statuses).toEqual(Array(20).fill(200));
    expect(tokenRequests - before).toBe(1);
  });

  it("refreshes an expired token exactly once and retries", async () => {
    const { page: p } = await visitApp();
    const post = () =>
      p.evaluate(async () => {
        const w = window as never as { BulwarkCsrf: typeof import("../../src/csrf/client/index.js") };
        const csrfFetch = w.BulwarkCsrf.createCsrfFetch({ tokenUrl: "/csrf-token" });
        const responses = await Promise.all(
          Array.from({ length: 5 }, () => csrfFetch("/api/transfer", { method: "POST", body: "x" })),
        );
        return responses.map((r) => r.status);
      });
    expect(await post()).toEqual(Array(5).fill(200));
    const before = tokenRequests;
    const refusalsBefore = app.refusals.length;
    clock.advance((MAX_AGE_SECONDS + 1) * 1000);
    expect(await post()).toEqual(Array(5).fill(200));
    expect(tokenRequests - before).toBe(1);
    expect(newRefusals(refusalsBefore)).toEqual(
      Array(5).fill({ method: "POST", path: "/api/transfer", status: 403, code: "ERR_CSRF_TOKEN_INVALID" }),
    );
  });

  it("works from a web worker", async () => {
    const { page: p } = await visitApp();
    const status = await p.evaluate(
      () =>
        new Promise((resolve) => {
          const worker = new Worker("/worker.js");
          worker.onmessage = (e) => resolve(e.data);
          worker.postMessage("go");
        }),
    );
    expect(status).toBe(200);
  });

  it("runs only nonced inline scripts and reports the injected one (securitypolicyviolation)", async () => {
    const { page: p, console: messages } = await visitApp();
    const state = await p.evaluate(() => {
      const w = window as never as { __nonceRan?: boolean; __injected?: boolean; __violations: unknown[] };
      return { nonceRan: w.__nonceRan, injected: w.__injected, violations: w.__violations };
    });
    expect(state).toEqual({
      nonceRan: true,
      injected: undefined,
      violations: [{ effective: "script-src-elem", blocked: "inline", disposition: "enforce" }],
    });
    const dynamic = await p.evaluate(async () => {
      const reported = new Promise<SecurityPolicyViolationEvent>((resolve) =>
        document.addEventListener("securitypolicyviolation", resolve, { once: true }),
      );
      const s = document.createElement("script");
      s.textContent = "window.__dynamic = true";
      document.body.appendChild(s);
      const event = await reported;
      const w = window as never as { __dynamic?: boolean; __violations: unknown[] };
      return { ran: w.__dynamic ?? false, violations: w.__violations.length, blocked: event.blockedURI };
    });
    expect(dynamic).toEqual({ ran: false, violations: 2, blocked: "inline" });
    const nonces = await Promise.all([
      p.evaluate(() => document.scripts[0]?.nonce),
      visitApp().then(({ page: q }) => q.evaluate(() => document.scripts[0]?.nonce)),
    ]);
    expect(nonces[0]).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(nonces[0]).not.toBe(nonces[1]);
    expect(messages.some((m) => /Content Security Policy/.test(m))).toBe(true);
    expect(messages.filter((m) => /Permissions-Policy|Unrecognized feature/i.test(m))).toEqual([]);
  });
});
