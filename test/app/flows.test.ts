import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Running } from "../../app/start.js";
import {
  ADMIN_PASSWORD,
  Browserless,
  bookingBody,
  json,
  linkFromOutbox,
  outboxText,
  startTestApp,
  stopTestApp,
} from "./harness.js";

/**
 * Every flow of the music school through its HTTP API, on the real stack: Express 5 + bulwark,
 * PGlite with row-level security, the real stripe SDK against the local simulator, signed webhooks.
 */

let app: Running;
let ip = 10;
const client = () => new Browserless(app.url, `127.0.0.${ip++}`);

async function adminOf(slug: "riverside" | "hillside") {
  const c = client();
  const r = await c.post("/api/auth/login", { email: `admin@${slug}.test`, password: ADMIN_PASSWORD });
  expect(r.status).toBe(200);
  return c;
}

async function bookAndVerify(family: Browserless, email: string, slug = "riverside") {
  const r = await family.post(`/api/schools/${slug}/meet-and-greets`, bookingBody({ email }));
  expect(r.status).toBe(202);
  const link = await linkFromOutbox(app, email, "/verify-email");
  const v = await family.post("/api/meet-and-greets/verify", {
    school: link.searchParams.get("school"),
    token: link.searchParams.get("token"),
  });
  expect(v.status).toBe(200);
  const row = await app.database.db
    .selectFrom("meet_and_greets")
    .select("id")
    .where("email", "=", email)
    .orderBy("created_at", "desc")
    .executeTakeFirstOrThrow();
  return row.id;
}

async function approve(admin: Browserless, bookingId: string) {
  const teachers = await json<{ id: string }[]>(await admin.get("/api/admin/teachers"));
  const r = await admin.post(`/api/admin/meet-and-greets/${bookingId}/approve`, {
    teacherId: teachers[0]!.id,
  });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await stopTestApp(app);
});

describe("Meet & Greet booking", () => {
  it("accepts a booking with 202 and mails a verification link to the primary contact", async () => {
    const family = client();
    const email = "booking.one@example.com";
    const r = await family.post("/api/schools/riverside/meet-and-greets", bookingBody({ email }));
    expect(r.status).toBe(202);
    expect(await json(r)).toEqual({ status: "received", next: "check-email" });
    const link = await linkFromOutbox(app, email, "/verify-email");
    expect(link.origin).toBe(app.url);
    expect(link.searchParams.get("school")).toBe("riverside");
    expect(link.searchParams.get("token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("answers exactly the same for a known and an unknown address", async () => {
    const family = client();
    const first = await family.post(
      "/api/schools/riverside/meet-and-greets",
      bookingBody({ email: "known@example.com" }),
    );
    const again = await family.post(
      "/api/schools/riverside/meet-and-greets",
      bookingBody({ email: "known@example.com" }),
    );
    const fresh = await family.post(
      "/api/schools/riverside/meet-and-greets",
      bookingBody({ email: "fresh@example.com" }),
    );
    const bodies = await Promise.all([first, again, fresh].map((r) => r.text()));
    expect([first.status, again.status, fresh.status]).toEqual([202, 202, 202]);
    expect(new Set(bodies).size).toBe(1);
  });

  it("stores notes as plain text: no HTML survives", async () => {
    const family = client();
    const email = "notes@example.com";
    const notes = `<script>alert("x")</script><b>Loves</b> <img src=x onerror=alert(1)>Bach & <a href="javascript:1">jazz</a>`;
    expect(
      (await family.post("/api/schools/riverside/meet-and-greets", bookingBody({ email, notes }))).status,
    ).toBe(202);
    const row = await app.database.db
      .selectFrom("meet_and_greets")
      .select("notes")
      .where("email", "=", email)
      .executeTakeFirstOrThrow();
    expect(row.notes).not.toMatch(/[<>]/);
    expect(row.notes).not.toContain("alert");
    expect(row.notes).toBe("Loves Bach &amp; jazz");
  });

  it("refuses invalid input with 400, naming the fields without echoing values", async () => {
    const family = client();
    const body = bookingBody({ email: "not-an-email" });
    const r = await family.post("/api/schools/riverside/meet-and-greets", body);
    expect(r.status).toBe(400);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    const problem = await json<{ code: string; issues: { path: string }[] }>(r);
    expect(problem.code).toBe("ERR_APP_INVALID_INPUT");
    expect(problem.issues.map((i) => i.path)).toEqual(["contacts.primary.email"]);
    expect(JSON.stringify(problem)).not.toContain("not-an-email");
  });

  it("refuses unknown fields and prototype-polluting JSON", async () => {
    const family = client();
    const extra = await family.post("/api/schools/riverside/meet-and-greets", {
      ...bookingBody(),
      role: "admin",
    });
    expect(extra.status).toBe(400);
    const polluted = await family.raw("/api/schools/riverside/meet-and-greets", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-csrf-token": await family.csrfToken(),
        "sec-fetch-site": "same-origin",
      },
      body: '{"__proto__":{"admin":true}}',
    });
    expect(polluted.status).toBe(400);
    expect((await json(polluted)).code).toBe("ERR_JSON_PROTOTYPE_POLLUTION");
  });

  it("answers 404 for an unknown school", async () => {
    const r = await client().post("/api/schools/nowhere/meet-and-greets", bookingBody());
    expect(r.status).toBe(404);
  });
});

describe("e-mail verification", () => {
  it("is single use", async () => {
    const family = client();
    const email = "verify.once@example.com";
    await family.post("/api/schools/riverside/meet-and-greets", bookingBody({ email }));
    const link = await linkFromOutbox(app, email, "/verify-email");
    const body = { school: link.searchParams.get("school"), token: link.searchParams.get("token") };
    expect((await family.post("/api/meet-and-greets/verify", body)).status).toBe(200);
    const again = await family.post("/api/meet-and-greets/verify", body);
    expect(again.status).toBe(400);
    expect((await json(again)).code).toBe("ERR_APP_TOKEN_INVALID");
  });

  it("refuses a link used with another school", async () => {
    const family = client();
    const email = "verify.other@example.com";
    await family.post("/api/schools/riverside/meet-and-greets", bookingBody({ email }));
    const link = await linkFromOutbox(app, email, "/verify-email");
    const other = await family.post("/api/meet-and-greets/verify", {
      school: "hillside",
      token: link.searchParams.get("token"),
    });
    expect(other.status).toBe(400);
    expect((await json(other)).code).toBe("ERR_APP_TOKEN_INVALID");
  });

  it("refuses an expired link", async () => {
    const family = client();
    const email = "verify.expired@example.com";
    await family.post("/api/schools/riverside/meet-and-greets", bookingBody({ email }));
    const link = await linkFromOutbox(app, email, "/verify-email");
    const booking = await app.database.db
      .selectFrom("meet_and_greets")
      .select("id")
      .where("email", "=", email)
      .executeTakeFirstOrThrow();
    await sql`update bulwark_one_time_tokens set expires_at = now() - interval '1 second'
              where account_id like ${`booking:%:${booking.id}`}`.execute(app.database.db);
    const expired = await family.post("/api/meet-and-greets/verify", {
      school: "riverside",
      token: link.searchParams.get("token"),
    });
    expect(expired.status).toBe(400);
    expect((await json(expired)).code).toBe("ERR_APP_TOKEN_INVALID");
  });
});

describe("admin approval", () => {
  it("lists verified requests, approves with a teacher and mails the registration link", async () => {
    const admin = await adminOf("riverside");
    const email = "approve.me@example.com";
    const id = await bookAndVerify(client(), email);
    const pending = await json<{ id: string; status: string }[]>(
      await admin.get("/api/admin/meet-and-greets?status=pending_approval"),
    );
    expect(pending.map((b) => b.id)).toContain(id);
    await approve(admin, id);
    const link = await linkFromOutbox(app, email, "/register");
    expect(link.searchParams.get("token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const all = await json<{ id: string; status: string; teacher_name: string }[]>(
      await admin.get("/api/admin/meet-and-greets"),
    );
    expect(all.find((b) => b.id === id)).toMatchObject({ status: "approved", teacher_name: "Clara Wieck" });
  });

  it("refuses to approve an unverified request (409) and a teacher of another school (400)", async () => {
    const admin = await adminOf("riverside");
    const email = "unverified@example.com";
    await client().post("/api/schools/riverside/meet-and-greets", bookingBody({ email }));
    const row = await app.database.db
      .selectFrom("meet_and_greets")
      .select("id")
      .where("email", "=", email)
      .executeTakeFirstOrThrow();
    const teachers = await json<{ id: string }[]>(await admin.get("/api/admin/teachers"));
    const r = await admin.post(`/api/admin/meet-and-greets/${row.id}/approve`, {
      teacherId: teachers[0]!.id,
    });
    expect(r.status).toBe(409);
    const verifiedId = await bookAndVerify(client(), "teacher.check@example.com");
    const hillsideTeacher = app.seeded!.find((s) => s.slug === "hillside")!.teachers[0]!.id;
    const wrong = await admin.post(`/api/admin/meet-and-greets/${verifiedId}/approve`, {
      teacherId: hillsideTeacher,
    });
    expect(wrong.status).toBe(400);
  });

  it("is for admins only", async () => {
    expect((await client().get("/api/admin/meet-and-greets")).status).toBe(401);
  });
});

describe("payment and registration", () => {
  async function approvedRegistration(email: string) {
    const admin = await adminOf("riverside");
    const family = client();
    const id = await bookAndVerify(family, email);
    await approve(admin, id);
    const link = await linkFromOutbox(app, email, "/register");
    return {
      family,
      admin,
      bookingId: id,
      body: { school: link.searchParams.get("school")!, token: link.searchParams.get("token")! },
    };
  }

  it("creates one Stripe Checkout Session per attempt: 5 % platform fee, destination charge, idempotent", async () => {
    const { family, body } = await approvedRegistration("checkout@example.com");
    const summary = await json(await family.post("/api/registration", body));
    expect(summary).toMatchObject({ amountCents: 12_500, currency: "eur", state: "awaiting_payment" });

    const missing = await family.post("/api/registration/checkout", body);
    expect(missing.status).toBe(400);
    expect((await json(missing)).code).toBe("ERR_IDEMPOTENCY_KEY_MISSING");

    const first = await family.post("/api/registration/checkout", body, { "idempotency-key": "k-1" });
    expect(first.status).toBe(200);
    const { url } = await json<{ url: string }>(first);
    expect(url).toMatch(new RegExp(`^${app.simulator!.url}/c/pay/cs_test_`));
    const sessionId = url.split("/").pop()!;
    const session = app.simulator!.session(sessionId)!;
    expect(session.amount_total).toBe(12_500);
    expect(session.connect).toEqual({
      destination: "acct_1RiversideDemo",
      stripe_account: null,
      application_fee_amount: 625,
    });
    expect(session.metadata.school_id).toBe(app.seeded!.find((s) => s.slug === "riverside")!.id);

    const replay = await family.post("/api/registration/checkout", body, { "idempotency-key": "k-1" });
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect((await json<{ url: string }>(replay)).url).toBe(url);

    // A new attempt within 30 minutes reuses the open session instead of creating another.
    const reuse = await family.post("/api/registration/checkout", body, { "idempotency-key": "k-2" });
    expect((await json<{ url: string }>(reuse)).url).toBe(url);
    const payments = await app.database.db
      .selectFrom("payments")
      .selectAll()
      .where("checkout_session_id", "=", sessionId)
      .execute();
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ amount_cents: 12_500, platform_fee_cents: 625, status: "pending" });
  });

  it("expires a pending session older than 30 minutes at Stripe and creates a new one", async () => {
    const { family, body } = await approvedRegistration("stale@example.com");
    const first = await json<{ url: string }>(
      await family.post("/api/registration/checkout", body, { "idempotency-key": "s-1" }),
    );
    const oldId = first.url.split("/").pop()!;
    await app.database.db
      .updateTable("payments")
      .set({ created_at: new Date(Date.now() - 31 * 60_000) })
      .where("checkout_session_id", "=", oldId)
      .execute();
    const second = await json<{ url: string }>(
      await family.post("/api/registration/checkout", body, { "idempotency-key": "s-2" }),
    );
    expect(second.url).not.toBe(first.url);
    expect(app.simulator!.session(oldId)!.status).toBe("expired");
    const old = await app.database.db
      .selectFrom("payments")
      .select("status")
      .where("checkout_session_id", "=", oldId)
      .executeTakeFirstOrThrow();
    expect(old.status).toBe("expired");
  });

  it("completes the registration from the signed webhook in one transaction, exactly once", async () => {
    const email = "paid.family@example.com";
    const { family, admin, body, bookingId } = await approvedRegistration(email);
    const { url } = await json<{ url: string }>(
      await family.post("/api/registration/checkout", body, { "idempotency-key": "p-1" }),
    );
    const sessionId = url.split("/").pop()!;
    const event = await app.simulator!.pay(sessionId);
    expect(app.simulator!.deliveries.filter((d) => d.eventId === event.id).map((d) => d.status)).toEqual([
      200,
    ]);

    const db = app.database.db;
    const payment = await db
      .selectFrom("payments")
      .selectAll()
      .where("checkout_session_id", "=", sessionId)
      .executeTakeFirstOrThrow();
    expect(payment).toMatchObject({ status: "paid", stripe_event_id: event.id });
    const family_ = await db
      .selectFrom("families")
      .selectAll()
      .where("meet_and_greet_id", "=", bookingId)
      .executeTakeFirstOrThrow();
    expect(family_.name).toMatch(/family$/);
    const students = await db
      .selectFrom("students")
      .selectAll()
      .where("family_id", "=", family_.id)
      .execute();
    expect(students).toHaveLength(1);
    expect(students[0]!.teacher_id).not.toBeNull();
    const contacts = await db
      .selectFrom("contacts")
      .select("kind")
      .where("family_id", "=", family_.id)
      .execute();
    expect(contacts.map((c) => c.kind).sort()).toEqual(["emergency", "primary", "secondary"]);
    const parent = await db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", email)
      .executeTakeFirstOrThrow();
    expect(parent).toMatchObject({ role: "parent", must_change_password: true, family_id: family_.id });

    const mails = await outboxText(app, email);
    expect(mails.at(-1)).toMatch(/temporary password: \S+/);
    expect((await json(await family.post("/api/registration", body))).state).toBe("registered");

    // Paying again is refused; a duplicate delivery changes nothing.
    const again = await family.post("/api/registration/checkout", body, { "idempotency-key": "p-2" });
    expect(again.status).toBe(409);
    expect((await json(again)).code).toBe("ERR_APP_ALREADY_PAID");
    expect(await app.simulator!.redeliver(event.id)).toBe(200);
    expect(
      await db.selectFrom("families").select("id").where("meet_and_greet_id", "=", bookingId).execute(),
    ).toHaveLength(1);
    expect(await outboxText(app, email)).toHaveLength(mails.length);

    const families = await json<{ id: string }[]>(await admin.get("/api/admin/families"));
    expect(families.map((f) => f.id)).toContain(family_.id);
    const payments = await json<{ status: string; platform_fee_cents: number }[]>(
      await admin.get("/api/admin/payments"),
    );
    expect(payments.some((p) => p.status === "paid" && p.platform_fee_cents === 625)).toBe(true);
  });

  it("lets the parent sign in with the temporary password only to change it", async () => {
    const email = "first.login@example.com";
    const { family, body } = await approvedRegistration(email);
    const { url } = await json<{ url: string }>(
      await family.post("/api/registration/checkout", body, { "idempotency-key": "f-1" }),
    );
    await app.simulator!.pay(url.split("/").pop()!);
    const temp = /temporary password: (\S+)/.exec((await outboxText(app, email)).at(-1)!)![1]!;

    const parent = client();
    const login = await parent.post("/api/auth/login", { email, password: temp });
    expect(login.status).toBe(200);
    expect((await json<{ user: { mustChangePassword: boolean } }>(login)).user.mustChangePassword).toBe(true);
    const blocked = await parent.get("/api/family");
    expect(blocked.status).toBe(403);
    expect((await json(blocked)).code).toBe("ERR_APP_PASSWORD_CHANGE_REQUIRED");

    const weak = await parent.post("/api/auth/change-password", {
      currentPassword: temp,
      newPassword: "short",
    });
    expect(weak.status).toBe(400);
    const changed = await parent.post("/api/auth/change-password", {
      currentPassword: temp,
      newPassword: "a violin sings in the morning",
    });
    expect(changed.status).toBe(200);
    const mine = await json<{ students: { name: string; teacher_name: string }[] }>(
      await parent.get("/api/family"),
    );
    expect(mine.students[0]!.teacher_name).toBe("Clara Wieck");
    const fresh = client();
    expect((await fresh.post("/api/auth/login", { email, password: temp })).status).toBe(401);
    expect(
      (await fresh.post("/api/auth/login", { email, password: "a violin sings in the morning" })).status,
    ).toBe(200);
  });
});

describe("sessions", () => {
  it("rotates the refresh token; reusing a rotated one revokes the whole session", async () => {
    const admin = await adminOf("hillside");
    const original = admin.cookies.get("__Host-refresh")!;
    const rotated = await admin.post("/api/auth/refresh");
    expect(rotated.status).toBe(200);
    expect(admin.cookies.get("__Host-refresh")).not.toBe(original);
    expect((await admin.get("/api/auth/me")).status).toBe(200);

    const thief = client();
    thief.cookies.set("__Host-refresh", original);
    const stolen = await thief.post("/api/auth/refresh");
    expect(stolen.status).toBe(401);
    // The legitimate session is revoked too: the copied token proves the family leaked.
    expect((await admin.get("/api/auth/me")).status).toBe(401);
    expect((await admin.post("/api/auth/refresh")).status).toBe(401);
  });

  it("logs out only with a CSRF token, and the session is dead afterwards", async () => {
    const admin = await adminOf("hillside");
    const noToken = await admin.raw("/api/auth/logout", {
      method: "POST",
      headers: { "sec-fetch-site": "same-origin", origin: app.url },
    });
    expect(noToken.status).toBe(403);
    expect((await json(noToken)).code).toBe("ERR_CSRF_TOKEN_MISSING");
    const access = admin.cookies.get("__Host-access")!;
    expect((await admin.post("/api/auth/logout")).status).toBe(204);
    const replayed = client();
    replayed.cookies.set("__Host-access", access);
    expect((await replayed.get("/api/auth/me")).status).toBe(401);
  });

  it("resets a password through a single-use link, answering the same for unknown addresses", async () => {
    const c = client();
    const known = await c.post("/api/auth/password-reset", { email: "admin@hillside.test" });
    const unknown = await c.post("/api/auth/password-reset", { email: "nobody@hillside.test" });
    expect([known.status, unknown.status]).toEqual([202, 202]);
    expect(await known.text()).toBe(await unknown.text());
    await app.app.context.auth.passwordReset.idle();
    const link = await linkFromOutbox(app, "admin@hillside.test", "/reset-password");
    const body = {
      school: link.searchParams.get("school"),
      token: link.searchParams.get("token"),
      newPassword: "a brand new cello passphrase",
    };
    expect((await c.post("/api/auth/password-reset/complete", body)).status).toBe(200);
    expect((await c.post("/api/auth/password-reset/complete", body)).status).toBe(400);
    const login = await client().post("/api/auth/login", {
      email: "admin@hillside.test",
      password: body.newPassword,
    });
    expect(login.status).toBe(200);
    // Put the seed password back for the other tests.
    await client().post("/api/auth/password-reset", { email: "admin@hillside.test" });
    await app.app.context.auth.passwordReset.idle();
    const again = await linkFromOutbox(app, "admin@hillside.test", "/reset-password");
    await c.post("/api/auth/password-reset/complete", {
      school: "hillside",
      token: again.searchParams.get("token"),
      newPassword: ADMIN_PASSWORD,
    });
  });
});

describe("operations", () => {
  it("serves liveness and readiness probes", async () => {
    const c = client();
    const live = await c.get("/livez");
    expect(live.status).toBe(200);
    expect(live.headers.get("content-type")).toBe("application/health+json");
    expect((await c.get("/readyz")).status).toBe(200);
  });

  it("sends the secure headers and a request id on API answers", async () => {
    const r = await client().get("/api/schools");
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("content-security-policy")).toMatch(/script-src 'self' 'nonce-/);
    expect(r.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers.get("x-powered-by")).toBeNull();
  });
});
