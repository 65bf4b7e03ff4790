import { existsSync, mkdirSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Running } from "../../app/start.js";
import { signStripeWebhook } from "../../src/webhooks/index.js";
import { ADMIN_PASSWORD, Browserless, bookingBody, journey, startTestApp, stopTestApp } from "./harness.js";

/**
 * The whole journey in a real browser (Debian's chromium through playwright-core) against the real
 * app — Express 5 + bulwark, PGlite, the built React SPA, the Stripe simulator — and the attacks of
 * the issue's proof. Screenshots of every step go to test-artifacts/app-journey/.
 * Outside CI a missing chromium skips this suite loudly; under CI it fails.
 */

const CHROMIUM = "/usr/bin/chromium";
const CI = process.env.CI === "true" || process.env.CI === "1";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM && !CI) {
  console.warn(
    `\n!!! SKIPPING the app's browser journey: ${CHROMIUM} not found. Install it: apt-get install -y chromium\n`,
  );
}
const ARTIFACTS = join(process.cwd(), "test-artifacts", "app-journey");

describe.runIf(HAVE_CHROMIUM || CI)("the music school in chromium", () => {
  let app: Running;
  let browser: Browser;
  let attacker: Server;
  let attackerOrigin: string;
  const contexts: BrowserContext[] = [];
  const cspViolations: string[] = [];
  let shot = 0;
  let ip = 10;
  let j: ReturnType<typeof journey>;

  const familyEmail = "ada.lovelace@example.com";
  const student = "Ada Lovelace Jr";
  let approvedBookingId: string | undefined;

  async function context(): Promise<Page> {
    const c = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    contexts.push(c);
    const page = await c.newPage();
    page.on("console", (m) => {
      if (/Content.Security.Policy|Refused to (execute|load|apply)/i.test(m.text()))
        cspViolations.push(m.text());
    });
    return page;
  }

  async function screenshot(page: Page, name: string) {
    shot++;
    await page.screenshot({
      path: join(ARTIFACTS, `${String(shot).padStart(2, "0")}-${name}.png`),
      fullPage: true,
    });
  }

  async function openOutboxLink(page: Page, to: string, path: string) {
    await page.goto(`${app.url}/outbox`);
    const link = page.locator(`article[data-to="${to}"] a[href*="${path}"]`).first();
    const href = await link.getAttribute("href");
    expect(href).toBeTruthy();
    await link.click();
    return href as string;
  }

  async function bookingCount() {
    return app.database.db
      .selectFrom("meet_and_greets")
      .select(["id", "status"])
      .where("email", "=", familyEmail)
      .execute();
  }

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`chromium is required under CI but ${CHROMIUM} is missing`);
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await startTestApp({ client: true });
    j = journey(app, () => `127.0.6.${ip++}`);
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
    // The attacker: a page on another site (localhost ≠ 127.0.0.1) that posts a form to the app.
    attacker = createServer((req, res) => {
      const target = decodeURIComponent((req.url ?? "/").slice(1));
      const [action, teacherId] = target.split("|");
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><title>win a prize</title><h1>You won!</h1>
<form id="f" method="POST" action="${action}"><input type="hidden" name="teacherId" value="${teacherId}"></form>
<script>document.getElementById("f").submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, "localhost", resolve));
    attackerOrigin = `http://localhost:${(attacker.address() as AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()));
    await stopTestApp(app);
  });

  it("book → verify e-mail → admin approves → pay on Stripe → webhook → registered → first sign-in", async () => {
    // 1. The family books a Meet & Greet.
    const family = await context();
    await family.goto(`${app.url}/book/riverside`);
    await family.getByRole("heading", { name: /Riverside Music School/ }).waitFor();
    await family.fill('input[name="studentName"]', student);
    await family.selectOption('select[name="instrument"]', "cello");
    await family.fill('input[name="primaryName"]', "Ada Lovelace");
    await family.fill('input[name="primaryEmail"]', familyEmail);
    await family.fill('input[name="primaryPhone"]', "+44 20 7946 0958");
    await family.fill('input[name="secondaryName"]', "William King");
    await family.fill('input[name="secondaryPhone"]', "+44 20 7946 0959");
    await family.fill('input[name="emergencyName"]', "Mary Somerville");
    await family.fill('input[name="emergencyPhone"]', "+44 20 7946 0960");
    await family.fill('textarea[name="notes"]', "Loves <b>Bach</b><script>alert(1)</script>");
    await screenshot(family, "booking-form");
    await family.getByRole("button", { name: /Request a Meet/ }).click();
    await family.getByText("We received your request").waitFor();
    await screenshot(family, "booking-received");

    // 2. The verification e-mail, opened from the outbox.
    await family.goto(`${app.url}/outbox`);
    await screenshot(family, "outbox-verification");
    await openOutboxLink(family, familyEmail, "/verify-email");
    await family.getByText("Your e-mail is confirmed").waitFor();
    await screenshot(family, "email-verified");

    // 3. The school office approves and assigns a teacher.
    const office = await context();
    await office.goto(`${app.url}/login`);
    await office.fill('input[name="email"]', "admin@riverside.test");
    await office.fill('input[name="password"]', ADMIN_PASSWORD);
    await office.getByRole("button", { name: "Sign in" }).click();
    await office.getByRole("heading", { name: "School office" }).waitFor();
    const row = office.locator("tr", { hasText: student });
    await row.waitFor();
    await expect(row.locator("td.notes").textContent()).resolves.toBe("Loves Bach");
    await screenshot(office, "office-pending");
    await row.getByLabel("Teacher").selectOption({ label: "Pablo Casals" });
    await row.getByRole("button", { name: "Approve" }).click();
    await office.getByText(`Approved ${student}`).waitFor();
    await screenshot(office, "office-approved");
    approvedBookingId = (await bookingCount())[0]?.id;

    // 4. The family pays through the registration link, on the (simulated) Stripe Checkout page.
    await openOutboxLink(family, familyEmail, "/register");
    await family.getByText("Registration fee: EUR 125.00").waitFor();
    await screenshot(family, "registration");
    await family.locator("#pay").click();
    await family.waitForURL(`${app.simulator!.url}/c/pay/**`);
    await family.getByText("EUR 125.00").first().waitFor();
    await screenshot(family, "stripe-checkout");
    await family.locator("#pay").click();
    await family.waitForURL(/\/register\?.*paid=1/);
    await family.getByText("the registration is complete").waitFor({ timeout: 15_000 });
    await screenshot(family, "registration-complete");
    const payment = await app.database.db
      .selectFrom("payments")
      .selectAll()
      .where("status", "=", "paid")
      .execute();
    expect(payment.map((p) => [p.amount_cents, p.platform_fee_cents])).toEqual([[12_500, 625]]);

    // 5. The parent signs in with the temporary password and must choose a new one.
    await family.goto(`${app.url}/outbox`);
    const welcome =
      (await family.locator(`article[data-to="${familyEmail}"] pre`).first().textContent()) ?? "";
    const temporary = /temporary password: (\S+)/.exec(welcome)?.[1];
    expect(temporary).toBeTruthy();
    await screenshot(family, "outbox-welcome");
    await family.goto(`${app.url}/login`);
    await family.fill('input[name="email"]', familyEmail);
    await family.fill('input[name="password"]', temporary as string);
    await family.getByRole("button", { name: "Sign in" }).click();
    await family.waitForURL(`${app.url}/change-password`);
    await family.getByText("temporary password").first().waitFor();
    await screenshot(family, "change-password");
    await family.fill('input[name="currentPassword"]', temporary as string);
    await family.fill('input[name="newPassword"]', "analytical engines hum softly");
    await family.getByRole("button", { name: "Save my password" }).click();
    await family.waitForURL(`${app.url}/family`);
    await family.getByText(`${student} — cello with Pablo Casals`).waitFor();
    await screenshot(family, "my-family");

    // The office sees the payment and the family.
    await office.getByRole("button", { name: "Payments" }).click();
    await office.getByText("EUR 6.25").waitFor();
    await screenshot(office, "office-payments");
    await office.getByRole("button", { name: "Families" }).click();
    await office.getByText(`${student} — cello with Pablo Casals`).waitFor();
    await screenshot(office, "office-families");
    expect(cspViolations).toEqual([]);
  }, 90_000);

  it("a duplicate and a forged webhook change nothing", async () => {
    const event = app.simulator!.events.at(-1)!;
    const db = app.database.db;
    const snapshot = async () => ({
      families: (await db.selectFrom("families").select("id").execute()).length,
      users: (await db.selectFrom("users").select("id").execute()).length,
      paid: (await db.selectFrom("payments").select("id").where("status", "=", "paid").execute()).length,
      mails: (await db.selectFrom("email_outbox").select("id").execute()).length,
    });
    const before = await snapshot();
    expect(await app.simulator!.redeliver(event.id)).toBe(200);
    const body = JSON.stringify({ ...event, id: "evt_forged_in_browser_suite" });
    const forged = await fetch(`${app.url}/webhooks/stripe`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(await signStripeWebhook({ body, secrets: "whsec_not_the_real_secret_at_all" })),
      },
      body,
    });
    expect(forged.status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  it("a cross-site form post from another loopback origin cannot approve a booking", async () => {
    const { bookingId } = await j.bookAndVerify("csrf.victim@example.com");
    const office = await context();
    await office.goto(`${app.url}/login`);
    await office.fill('input[name="email"]', "admin@riverside.test");
    await office.fill('input[name="password"]', ADMIN_PASSWORD);
    await office.getByRole("button", { name: "Sign in" }).click();
    await office.getByRole("heading", { name: "School office" }).waitFor();
    const teacher = app.seeded!.find((s) => s.slug === "riverside")!.teachers[0]!.id;
    const action = `${app.url}/api/admin/meet-and-greets/${bookingId}/approve`;
    const refused = office.waitForResponse((r) => r.url() === action);
    await office.goto(`${attackerOrigin}/${encodeURIComponent(`${action}|${teacher}`)}`);
    const response = await refused;
    expect(response.status()).toBe(403);
    expect((await response.json()).code).toBe("ERR_CSRF_ORIGIN_MISMATCH");
    await screenshot(office, "attack-cross-site-post");
    const row = await app.database.db
      .selectFrom("meet_and_greets")
      .select("status")
      .where("id", "=", bookingId)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe("pending_approval");
  });

  it("one school's admin cannot see another school's data through any page or API", async () => {
    const office = await context();
    await office.goto(`${app.url}/login`);
    await office.fill('input[name="email"]', "admin@hillside.test");
    await office.fill('input[name="password"]', ADMIN_PASSWORD);
    await office.getByRole("button", { name: "Sign in" }).click();
    await office.getByRole("heading", { name: "School office" }).waitFor();
    for (const tab of ["All requests", "Payments", "Families"]) {
      await office.getByRole("button", { name: tab }).click();
      await office.waitForLoadState("networkidle");
      expect(await office.locator("main").textContent()).not.toContain("Ada Lovelace");
    }
    await screenshot(office, "attack-other-school-office");
    const apis = await office.evaluate(async () => {
      const out: Record<string, string> = {};
      for (const path of [
        "/api/admin/meet-and-greets",
        "/api/admin/payments",
        "/api/admin/families",
        "/api/admin/teachers",
      ]) {
        out[path] = await (await fetch(path)).text();
      }
      return out;
    });
    for (const text of Object.values(apis)) {
      expect(text).not.toContain("Ada Lovelace");
      expect(text).not.toContain("Pablo Casals");
    }
    if (approvedBookingId) {
      const status = await office.evaluate(async (id) => {
        const token = (await (await fetch("/csrf-token")).json()).token;
        const r = await fetch(`/api/admin/meet-and-greets/${id}/approve`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-csrf-token": token },
          body: JSON.stringify({ teacherId: "00000000-0000-4000-8000-000000000000" }),
        });
        return r.status;
      }, approvedBookingId);
      expect([400, 404]).toContain(status);
    }
  });

  it("six wrong passwords lock the account", async () => {
    const page = await context();
    await page.goto(`${app.url}/login`);
    const attempt = async (password: string) => {
      await page.fill('input[name="email"]', "admin@hillside.test");
      await page.fill('input[name="password"]', password);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith("/api/auth/login")),
        page.getByRole("button", { name: "Sign in" }).click(),
      ]);
      await page.getByRole("alert").waitFor();
      return response.status();
    };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await attempt(`not the password ${i}`));
    statuses.push(await attempt(ADMIN_PASSWORD));
    await page.getByText(/Try again in \d+ minutes/).waitFor();
    await screenshot(page, "attack-login-locked");
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it("the 6th booking in an hour from one address gets 429 with Retry-After", async () => {
    // The journey's booking came from this browser's address (127.0.0.1): four more pass, the next is refused.
    const page = await context();
    const answers: { status: number; retryAfter: string | null }[] = [];
    page.on("response", (r) => {
      if (r.url().endsWith("/meet-and-greets") && r.request().method() === "POST") {
        answers.push({ status: r.status(), retryAfter: r.headers()["retry-after"] ?? null });
      }
    });
    for (let i = 0; i < 5; i++) {
      await page.goto(`${app.url}/book/riverside`);
      const b = bookingBody();
      await page.fill('input[name="studentName"]', b.studentName);
      await page.fill('input[name="primaryName"]', b.contacts.primary.name);
      await page.fill('input[name="primaryEmail"]', b.contacts.primary.email);
      await page.fill('input[name="primaryPhone"]', b.contacts.primary.phone);
      await page.fill('input[name="secondaryName"]', b.contacts.secondary.name);
      await page.fill('input[name="secondaryPhone"]', b.contacts.secondary.phone);
      await page.fill('input[name="emergencyName"]', b.contacts.emergency.name);
      await page.fill('input[name="emergencyPhone"]', b.contacts.emergency.phone);
      await page.getByRole("button", { name: /Request a Meet/ }).click();
      await page.locator(".alert").waitFor();
    }
    await page.getByText(/Try again in \d+ minutes/).waitFor();
    await screenshot(page, "attack-sixth-booking");
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 429]);
    expect(Number(answers[4]!.retryAfter)).toBeGreaterThanOrEqual(1);
    // Another address is not affected.
    const neighbour = new Browserless(app.url, "127.0.7.1");
    expect((await neighbour.post("/api/schools/riverside/meet-and-greets", bookingBody())).status).toBe(202);
  });
});
