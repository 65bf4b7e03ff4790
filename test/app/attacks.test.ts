import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Running } from "../../app/start.js";
import { signStripeWebhook } from "../../src/webhooks/index.js";
import {
  ADMIN_PASSWORD,
  Browserless,
  bookingBody,
  journey,
  json,
  startTestApp,
  stopTestApp,
} from "./harness.js";

/** The attacks of the proof, over HTTP against the running app. */

let app: Running;
let ip = 100;
let j: ReturnType<typeof journey>;

beforeAll(async () => {
  app = await startTestApp();
  j = journey(app, () => `127.0.1.${ip++}`);
});
afterAll(async () => {
  await stopTestApp(app);
});

async function counts() {
  const db = app.database.db;
  const count = async (table: "families" | "users" | "students" | "contacts" | "email_outbox") =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const paid = await db.selectFrom("payments").select("id").where("status", "=", "paid").execute();
  return {
    families: await count("families"),
    users: await count("users"),
    students: await count("students"),
    contacts: await count("contacts"),
    mails: await count("email_outbox"),
    paid: paid.length,
  };
}

describe("rate limits", () => {
  it("answers the 6th booking in an hour from one IP with 429 and Retry-After; other IPs still book", async () => {
    const attacker = new Browserless(app.url, "127.0.2.1");
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 6; i++) {
      last = await attacker.post("/api/schools/riverside/meet-and-greets", bookingBody());
      statuses.push(last.status);
    }
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429]);
    expect(last!.headers.get("content-type")).toBe("application/problem+json");
    expect((await json(last!)).code).toBe("ERR_RATELIMIT_EXCEEDED");
    const retryAfter = Number(last!.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    // Sliding window: the weighted previous hour still counts, so the wait can exceed one window.
    expect(retryAfter).toBeLessThanOrEqual(7200);
    expect(last!.headers.get("ratelimit-policy")).toBe('"booking";q=5;w=3600');
    const neighbour = new Browserless(app.url, "127.0.2.2");
    expect((await neighbour.post("/api/schools/riverside/meet-and-greets", bookingBody())).status).toBe(202);
  });

  it("allows 10 checkout attempts per minute per IP, then 429", async () => {
    const attacker = new Browserless(app.url, "127.0.2.3");
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const r = await attacker.post(
        "/api/registration/checkout",
        { school: "riverside", token: "A".repeat(43) },
        { "idempotency-key": `guess-${i}` },
      );
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(400)); // invalid link, counted anyway
    expect(statuses[10]).toBe(429);
  });
});

describe("login lockout", () => {
  async function attempts(client: Browserless, email: string, password: string, n: number) {
    const out: { status: number; code: unknown }[] = [];
    for (let i = 0; i < n; i++) {
      const r = await client.post("/api/auth/login", { email, password });
      out.push({ status: r.status, code: (await json(r)).code });
    }
    return out;
  }

  it("locks the account for this IP after five wrong passwords: the sixth attempt is 429 even with the right one", async () => {
    const attacker = new Browserless(app.url, "127.0.3.1");
    const wrong = await attempts(attacker, "admin@riverside.test", "wrong password!", 5);
    expect(wrong).toEqual(Array(5).fill({ status: 401, code: "ERR_LOGIN_FAILED" }));
    const sixth = await attacker.post("/api/auth/login", {
      email: "admin@riverside.test",
      password: ADMIN_PASSWORD,
    });
    expect(sixth.status).toBe(429);
    expect((await json(sixth)).code).toBe("ERR_LOGIN_LOCKED");
    expect(Number(sixth.headers.get("retry-after"))).toBeGreaterThan(60);
    expect(attacker.cookies.has("__Host-access")).toBe(false);
  });

  it("answers an unknown account exactly like a known one", async () => {
    const attacker = new Browserless(app.url, "127.0.3.2");
    const known = await attempts(attacker, "admin@hillside.test", "wrong password!", 6);
    const other = new Browserless(app.url, "127.0.3.3");
    const unknown = await attempts(other, "nobody@hillside.test", "wrong password!", 6);
    expect(unknown).toEqual(known);
  });

  it("sheds a burst of logins from one address beyond the hasher's bound with 503 and Retry-After", async () => {
    const flood = new Browserless(app.url, "127.0.3.20");
    await flood.csrfToken();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        flood.post("/api/auth/login", { email: `flood${i}@example.com`, password: "not the password" }),
      ),
    );
    const shed = answers.filter((r) => r.status === 503);
    expect(shed.length).toBeGreaterThan(0);
    expect(shed[0]!.headers.get("retry-after")).toBe("1");
    expect((await json(shed[0]!)).code).toBe("ERR_PASSWORD_HASHER_BUSY");
    expect(answers.every((r) => r.status === 401 || r.status === 503)).toBe(true);
  });

  it("does not let a stranger lock the admin out from the admin's own address", async () => {
    // The lock above is per account+IP (5); the account as a whole locks only after 20 failures.
    const office = new Browserless(app.url, "127.0.3.9");
    expect(
      (await office.post("/api/auth/login", { email: "admin@riverside.test", password: ADMIN_PASSWORD }))
        .status,
    ).toBe(200);
  });
});

describe("webhooks", () => {
  it("a duplicate delivery and a re-signed replay of the same event change nothing", async () => {
    const { event } = await j.paid("dup.hook@example.com");
    const before = await counts();
    expect(await app.simulator!.redeliver(event.id)).toBe(200);
    const body = JSON.stringify(event);
    const resigned = await fetch(`${app.url}/webhooks/stripe`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(await signStripeWebhook({ body, secrets: app.simulator!.webhookSecret })),
      },
      body,
    });
    expect(resigned.status).toBe(200);
    expect(await resigned.json()).toEqual({ received: true, duplicate: true });
    expect(await counts()).toEqual(before);
  });

  it("a forged, unsigned, stale or tampered webhook is refused with one uniform 400 and changes nothing", async () => {
    const { sessionId } = await j.approved("forged.hook@example.com").then(async (a) => {
      const r = await a.family.post("/api/registration/checkout", a.body, { "idempotency-key": "forge-1" });
      return { sessionId: (await json<{ url: string }>(r)).url.split("/").pop()! };
    });
    const session = { ...app.simulator!.session(sessionId)!, status: "complete", payment_status: "paid" };
    const event = {
      id: "evt_forged1",
      object: "event",
      type: "checkout.session.completed",
      data: { object: session },
    };
    const body = JSON.stringify(event);
    const before = await counts();
    const variants: Record<string, Record<string, string>> = {
      forged: await signStripeWebhook({ body, secrets: "whsec_attackerattackerattacker" }),
      unsigned: {},
      stale: await signStripeWebhook({
        body,
        secrets: app.simulator!.webhookSecret,
        timestamp: Math.floor(Date.now() / 1000) - 3600,
      }),
    };
    const valid = await signStripeWebhook({ body, secrets: app.simulator!.webhookSecret });
    const answers: string[] = [];
    for (const headers of Object.values(variants)) {
      const r = await fetch(`${app.url}/webhooks/stripe`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      });
      expect(r.status).toBe(400);
      answers.push(await r.text());
    }
    const tampered = await fetch(`${app.url}/webhooks/stripe`, {
      method: "POST",
      headers: { "content-type": "application/json", ...valid },
      body: body.replace('"paid"', '"paid" '),
    });
    expect(tampered.status).toBe(400);
    answers.push(await tampered.text());
    expect(new Set(answers).size).toBe(1);
    expect(JSON.parse(answers[0]!).code).toBe("ERR_WEBHOOK_VERIFICATION_FAILED");
    expect(await counts()).toEqual(before);
    expect(app.simulator!.session(sessionId)!.payment_status).toBe("unpaid");
  });

  it("a completion that fails half-way leaves nothing behind, and the retried delivery completes it", async () => {
    const email = "half.way@example.com";
    const a = await j.approved(email);
    const r = await a.family.post("/api/registration/checkout", a.body, { "idempotency-key": "half-1" });
    const sessionId = (await json<{ url: string }>(r)).url.split("/").pop()!;
    // A conflicting row makes the family insert fail after the payment was marked paid in the same transaction.
    const riverside = app.seeded!.find((s) => s.slug === "riverside")!.id;
    const blocker = await app.database.db
      .insertInto("families")
      .values({ school_id: riverside, meet_and_greet_id: a.bookingId, name: "blocker" })
      .returning("id")
      .executeTakeFirstOrThrow();
    const before = await counts();
    const event = await app.simulator!.pay(sessionId);
    expect(app.simulator!.deliveries.filter((d) => d.eventId === event.id).map((d) => d.status)).toEqual([
      500, 500, 500, 500,
    ]);
    expect(await counts()).toEqual(before);
    const payment = await app.database.db
      .selectFrom("payments")
      .select("status")
      .where("checkout_session_id", "=", sessionId)
      .executeTakeFirstOrThrow();
    expect(payment.status).toBe("pending");
    expect(
      await app.database.db.selectFrom("users").select("id").where("email", "=", email).execute(),
    ).toEqual([]);

    await app.database.db.deleteFrom("families").where("id", "=", blocker.id).execute();
    expect(await app.simulator!.redeliver(event.id)).toBe(200);
    const after = await counts();
    expect(after.paid).toBe(before.paid + 1);
    expect(after.families).toBe(before.families);
    expect(after.users).toBe(before.users + 1);
  });

  it("a correctly signed event naming another school in its metadata is ignored", async () => {
    const a = await j.approved("cross.school@example.com");
    const r = await a.family.post("/api/registration/checkout", a.body, { "idempotency-key": "cross-1" });
    const sessionId = (await json<{ url: string }>(r)).url.split("/").pop()!;
    const hillside = app.seeded!.find((s) => s.slug === "hillside")!.id;
    const s = app.simulator!.session(sessionId)!;
    const session = {
      ...s,
      status: "complete",
      payment_status: "paid",
      metadata: { ...s.metadata, school_id: hillside },
    };
    const body = JSON.stringify({
      id: "evt_crossschool1",
      object: "event",
      type: "checkout.session.completed",
      data: { object: session },
    });
    const before = await counts();
    const answer = await fetch(`${app.url}/webhooks/stripe`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(await signStripeWebhook({ body, secrets: app.simulator!.webhookSecret })),
      },
      body,
    });
    expect(answer.status).toBe(200);
    expect(await counts()).toEqual(before);
    const payment = await app.database.db
      .selectFrom("payments")
      .select("status")
      .where("checkout_session_id", "=", sessionId)
      .executeTakeFirstOrThrow();
    expect(payment.status).toBe("pending");
  });
});

describe("tenant isolation", () => {
  it("one school's admin sees none of another school's requests, payments or families", async () => {
    const { bookingId, admin: riverside } = await j.paid("isolated@example.com");
    const hillside = await j.adminOf("hillside");
    const hb = await json<{ id: string }[]>(await hillside.get("/api/admin/meet-and-greets"));
    expect(hb.map((b) => b.id)).not.toContain(bookingId);
    const hp = await json<{ student_name: string }[]>(await hillside.get("/api/admin/payments"));
    const rp = await json<{ student_name: string }[]>(await riverside.get("/api/admin/payments"));
    expect(rp.length).toBeGreaterThan(0);
    expect(hp.filter((p) => rp.some((r) => r.student_name === p.student_name))).toEqual([]);
    const hf = await json<{ id: string }[]>(await hillside.get("/api/admin/families"));
    const rf = await json<{ id: string }[]>(await riverside.get("/api/admin/families"));
    expect(rf.length).toBeGreaterThan(0);
    expect(hf.filter((f) => rf.some((r) => r.id === f.id))).toEqual([]);
    const teachers = await json<{ name: string }[]>(await hillside.get("/api/admin/teachers"));
    expect(teachers.map((t) => t.name)).toEqual(["Nadia Boulanger"]);
  });

  it("another school's booking cannot be approved by id: 404, and it stays pending", async () => {
    const { bookingId } = await j.bookAndVerify("other.school@example.com");
    const hillside = await j.adminOf("hillside");
    const teacher = app.seeded!.find((s) => s.slug === "hillside")!.teachers[0]!.id;
    const r = await hillside.post(`/api/admin/meet-and-greets/${bookingId}/approve`, { teacherId: teacher });
    expect(r.status).toBe(404);
    const row = await app.database.db
      .selectFrom("meet_and_greets")
      .select("status")
      .where("id", "=", bookingId)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe("pending_approval");
  });

  it("a parent cannot reach the office API", async () => {
    const email = "nosy.parent@example.com";
    await j.paid(email);
    const mail = await app.database.db
      .selectFrom("email_outbox")
      .select("text_body")
      .where("to_address", "=", email)
      .orderBy("created_at", "desc")
      .executeTakeFirstOrThrow();
    const temp = /temporary password: (\S+)/.exec(mail.text_body)![1]!;
    const parent = j.client();
    await parent.post("/api/auth/login", { email, password: temp });
    await parent.post("/api/auth/change-password", {
      currentPassword: temp,
      newPassword: "my own long passphrase",
    });
    expect((await parent.get("/api/admin/families")).status).toBe(403);
    expect((await parent.get("/api/family")).status).toBe(200);
  });
});

describe("cross-site requests", () => {
  it("refuses a cross-site form post that would approve a booking, with the admin's cookies", async () => {
    const { bookingId } = await j.bookAndVerify("csrf.target@example.com");
    const admin = await j.adminOf("riverside");
    const teacher = app.seeded!.find((s) => s.slug === "riverside")!.teachers[0]!.id;
    const r = await admin.raw(`/api/admin/meet-and-greets/${bookingId}/approve`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: "http://localhost:9",
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "navigate",
      },
      body: `teacherId=${teacher}`,
    });
    expect(r.status).toBe(403);
    expect((await json(r)).code).toBe("ERR_CSRF_ORIGIN_MISMATCH");
    const noToken = await admin.raw(`/api/admin/meet-and-greets/${bookingId}/approve`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: app.url, "sec-fetch-site": "same-origin" },
      body: JSON.stringify({ teacherId: teacher }),
    });
    expect(noToken.status).toBe(403);
    expect((await json(noToken)).code).toBe("ERR_CSRF_TOKEN_MISSING");
    const row = await app.database.db
      .selectFrom("meet_and_greets")
      .select("status")
      .where("id", "=", bookingId)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe("pending_approval");
  });

  it("refuses a CORS preflight from an origin that is not allowed", async () => {
    const r = await fetch(`${app.url}/api/admin/meet-and-greets`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:9", "access-control-request-method": "POST" },
    });
    expect(r.status).toBe(403);
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
  });
});
