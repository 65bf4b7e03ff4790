import { request } from "node:http";
import type { Logger } from "pino";
import { env } from "../../app/env.js";
import { type Running, startApp } from "../../app/start.js";

export const ADMIN_PASSWORD = "correct horse battery staple";

/** Starts the whole app on a free loopback port: PGlite, the Stripe simulator, outbox mail. */
export async function startTestApp(
  options: { client?: boolean; vars?: Record<string, string>; redisPrefix?: string; logger?: Logger } = {},
): Promise<Running> {
  const config = env.load({ NODE_ENV: "test", PORT: "0", HOST: "127.0.0.1", ...options.vars });
  return startApp(config, {
    client: options.client ?? false,
    adminPassword: ADMIN_PASSWORD,
    simulatorRetryDelaysMs: [20, 50, 100],
    ...(options.redisPrefix ? { redisPrefix: options.redisPrefix } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

export async function stopTestApp(running: Running | undefined): Promise<void> {
  if (!running) return;
  running.server.closeAllConnections();
  for (const hook of running.hooks) await hook.run();
}

/** A cookie-keeping HTTP client that behaves like the SPA: CSRF token on unsafe requests. */
export class Browserless {
  readonly cookies = new Map<string, string>();
  #csrf: string | undefined;

  /**
   * `localAddress` picks the loopback address the client connects from (127.0.0.0/8 all reach the
   * server), so each test client is its own IP for the rate limits.
   */
  constructor(
    readonly base: string,
    readonly localAddress = "127.0.0.1",
    readonly extraHeaders: Record<string, string> = {},
  ) {}

  #store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  async raw(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(this.extraHeaders)) if (!headers.has(k)) headers.set(k, v);
    if (this.cookies.size > 0) headers.set("cookie", this.cookieHeader());
    const response = await send(
      new URL(path, this.base),
      init.method ?? "GET",
      headers,
      init.body,
      this.localAddress,
    );
    this.#store(response);
    return response;
  }

  async csrfToken(): Promise<string> {
    if (!this.#csrf) {
      const r = await this.raw("/csrf-token");
      this.#csrf = ((await r.json()) as { token: string }).token;
    }
    return this.#csrf;
  }

  forgetCsrf(): void {
    this.#csrf = undefined;
  }

  async get(path: string): Promise<Response> {
    return this.raw(path);
  }

  /** POSTs JSON with the CSRF token, refreshing it once on a token refusal (as the SPA client does). */
  async post(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const send = async () =>
      this.raw(path, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          origin: this.base,
          "sec-fetch-site": "same-origin",
          "x-csrf-token": await this.csrfToken(),
          ...headers,
        },
        body: body === undefined ? "{}" : JSON.stringify(body),
      });
    let response = await send();
    if (response.status === 403) {
      const code = ((await response.clone().json()) as { code?: string }).code;
      if (code === "ERR_CSRF_TOKEN_INVALID" || code === "ERR_CSRF_TOKEN_MISSING") {
        this.forgetCsrf();
        response = await send();
      }
    }
    return response;
  }
}

/** One HTTP/1.1 request from a chosen local address, answered as a WHATWG Response. */
function send(
  url: URL,
  method: string,
  headers: Headers,
  body: unknown,
  localAddress: string,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers: Object.fromEntries(headers), localAddress, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const out = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2)
            out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          const status = res.statusCode ?? 0;
          const nullBody = status === 204 || status === 304 || method === "HEAD";
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: out }));
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(typeof body === "string" ? body : undefined);
  });
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

let counter = 0;

/** A valid booking with a unique e-mail address. */
export function bookingBody(overrides: { email?: string; notes?: string; studentName?: string } = {}) {
  counter++;
  return {
    studentName: overrides.studentName ?? `Student ${counter}`,
    instrument: "violin",
    contacts: {
      primary: {
        name: `Parent Number${counter}`,
        email: overrides.email ?? `parent${counter}.${process.pid}@example.com`,
        phone: "+33 6 12 34 56 78",
      },
      secondary: { name: "Second Parent", phone: "+33 6 98 76 54 32" },
      emergency: { name: "Grandma", phone: "+33 1 23 45 67 89" },
    },
    notes: overrides.notes ?? "Plays a little already.",
  };
}

/** The newest outbox message to an address, and the first link in it matching `pathPrefix`. */
export async function linkFromOutbox(running: Running, to: string, pathPrefix: string): Promise<URL> {
  const rows = await running.database.db
    .selectFrom("email_outbox")
    .select(["text_body"])
    .where("to_address", "=", to)
    .orderBy("created_at", "desc")
    .execute();
  for (const row of rows) {
    for (const match of row.text_body.matchAll(/https?:\/\/\S+/g)) {
      const url = new URL(match[0]);
      if (url.pathname.startsWith(pathPrefix)) return url;
    }
  }
  throw new Error(`no ${pathPrefix} link in the outbox for ${to}`);
}

export async function outboxText(running: Running, to: string): Promise<string[]> {
  const rows = await running.database.db
    .selectFrom("email_outbox")
    .select("text_body")
    .where("to_address", "=", to)
    .orderBy("created_at", "asc")
    .execute();
  return rows.map((r) => r.text_body);
}

/** Steps of the journey over the API, for tests that need a booking in a given state. */
export function journey(app: Running, nextIp: () => string) {
  const client = () => new Browserless(app.url, nextIp());
  async function adminOf(slug: "riverside" | "hillside") {
    const c = client();
    const r = await c.post("/api/auth/login", { email: `admin@${slug}.test`, password: ADMIN_PASSWORD });
    if (r.status !== 200) throw new Error(`admin login failed: ${r.status}`);
    return c;
  }
  async function bookAndVerify(email: string, slug = "riverside") {
    const family = client();
    const r = await family.post(`/api/schools/${slug}/meet-and-greets`, bookingBody({ email }));
    if (r.status !== 202) throw new Error(`booking failed: ${r.status}`);
    const link = await linkFromOutbox(app, email, "/verify-email");
    const v = await family.post("/api/meet-and-greets/verify", {
      school: link.searchParams.get("school"),
      token: link.searchParams.get("token"),
    });
    if (v.status !== 200) throw new Error(`verification failed: ${v.status}`);
    const row = await app.database.db
      .selectFrom("meet_and_greets")
      .select("id")
      .where("email", "=", email)
      .orderBy("created_at", "desc")
      .executeTakeFirstOrThrow();
    return { family, bookingId: row.id };
  }
  async function approve(admin: Browserless, bookingId: string) {
    const teachers = await json<{ id: string }[]>(await admin.get("/api/admin/teachers"));
    const r = await admin.post(`/api/admin/meet-and-greets/${bookingId}/approve`, {
      teacherId: teachers[0]!.id,
    });
    if (r.status !== 200) throw new Error(`approval failed: ${r.status}`);
  }
  async function approved(email: string, slug: "riverside" | "hillside" = "riverside") {
    const admin = await adminOf(slug);
    const { family, bookingId } = await bookAndVerify(email, slug);
    await approve(admin, bookingId);
    const link = await linkFromOutbox(app, email, "/register");
    return {
      family,
      admin,
      bookingId,
      body: { school: link.searchParams.get("school")!, token: link.searchParams.get("token")! },
    };
  }
  async function paid(email: string, slug: "riverside" | "hillside" = "riverside") {
    const a = await approved(email, slug);
    const r = await a.family.post("/api/registration/checkout", a.body, {
      "idempotency-key": crypto.randomUUID(),
    });
    if (r.status !== 200) throw new Error(`checkout failed: ${r.status} ${await r.text()}`);
    const { url } = await json<{ url: string }>(r);
    const sessionId = url.split("/").pop()!;
    const event = await app.simulator!.pay(sessionId);
    return { ...a, sessionId, event };
  }
  return { client, adminOf, bookAndVerify, approve, approved, paid };
}
