import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import type Stripe from "stripe";
import { type AppContext, CHECKOUT_LIFETIME_SECONDS, CHECKOUT_REUSE_MS } from "../context.js";
import type { MeetAndGreet, School } from "../db/schema.js";
import { type Tx, withSchool } from "../db/tenant.js";
import { problems } from "../http-problem.js";
import { enqueueEmail } from "../mail/outbox.js";
import { formatMoney, platformFeeCents } from "../money.js";
import { hashToken, temporaryPassword } from "../tokens.js";
import { schoolBySlug } from "./bookings.js";

type RegistrationState = "awaiting_payment" | "payment_pending" | "registered";

interface Registration {
  school: School;
  booking: MeetAndGreet;
}

/** The booking a registration link belongs to, if the link is valid (unexpired; used ones only for status). */
async function findRegistration(
  tx: Tx,
  school: School,
  token: string,
  now: Date,
  allowUsed: boolean,
): Promise<Registration> {
  const booking = await tx
    .selectFrom("meet_and_greets")
    .selectAll()
    .where("registration_token_hash", "=", hashToken(token))
    .executeTakeFirst();
  if (!booking?.registration_expires_at) throw problems.tokenInvalid();
  if (booking.registration_used_at !== null && !allowUsed) throw problems.tokenInvalid();
  if (booking.registration_used_at === null && booking.registration_expires_at <= now)
    throw problems.tokenInvalid();
  return { school, booking };
}

function state(booking: MeetAndGreet, hasPending: boolean): RegistrationState {
  if (booking.status === "registered") return "registered";
  return hasPending ? "payment_pending" : "awaiting_payment";
}

/** What the registration page shows: who, what it costs, and where the payment stands. */
export async function registrationSummary(ctx: AppContext, slug: string, token: string) {
  const school = await schoolBySlug(ctx, slug);
  return withSchool(ctx.db, school.id, async (tx) => {
    const { booking } = await findRegistration(tx, school, token, ctx.now(), true);
    const pending = await tx
      .selectFrom("payments")
      .select("id")
      .where("meet_and_greet_id", "=", booking.id)
      .where("status", "=", "pending")
      .executeTakeFirst();
    return {
      school: { name: school.name, slug: school.slug },
      studentName: booking.student_name,
      instrument: booking.instrument,
      amountCents: school.registration_fee_cents,
      currency: school.currency,
      state: state(booking, pending !== undefined),
    };
  });
}

/**
 * Starts (or resumes) payment for a registration: a completed payment cannot be paid again; a
 * pending Checkout Session younger than 30 minutes is offered again; an older one is expired at
 * Stripe first (so two sessions can never both be paid) and a new one is created. The Stripe call
 * carries an idempotency key derived from the payment row, so a retried request never creates a
 * second session for the same attempt.
 */
export async function startCheckout(ctx: AppContext, slug: string, token: string): Promise<{ url: string }> {
  const school = await schoolBySlug(ctx, slug);
  return withSchool(ctx.db, school.id, async (tx) => {
    const { booking } = await findRegistration(tx, school, token, ctx.now(), true);
    if (booking.status === "registered") throw problems.alreadyPaid();
    if (booking.registration_used_at !== null) throw problems.tokenInvalid();
    if (booking.status !== "approved") throw problems.conflict();
    // Serialise checkouts of one registration (two tabs, a double click) on the booking row.
    await sql`select 1 from meet_and_greets where id = ${booking.id} for update`.execute(tx);
    const payments = await tx
      .selectFrom("payments")
      .selectAll()
      .where("meet_and_greet_id", "=", booking.id)
      .orderBy("created_at", "desc")
      .execute();
    if (payments.some((p) => p.status === "paid")) throw problems.alreadyPaid();
    const now = ctx.now().getTime();
    for (const p of payments.filter((x) => x.status === "pending")) {
      if (now - p.created_at.getTime() < CHECKOUT_REUSE_MS) {
        const session = await ctx.stripe.checkout.sessions
          .retrieve(p.checkout_session_id)
          .catch(() => undefined);
        if (session?.status === "open" && session.url) return { url: session.url };
        if (session?.status === "complete") throw problems.alreadyPaid();
      } else {
        await ctx.stripe.checkout.sessions.expire(p.checkout_session_id).catch((error: unknown) => {
          // Already expired or completed at Stripe: completion arrives through the webhook.
          if ((error as { statusCode?: number }).statusCode !== 400) throw problems.paymentProvider();
        });
      }
      await tx.updateTable("payments").set({ status: "expired" }).where("id", "=", p.id).execute();
    }
    const paymentId = randomUUID();
    const idempotencyKey = `checkout-${booking.id}-${paymentId}`;
    const amount = school.registration_fee_cents;
    const fee = platformFeeCents(amount);
    let session: Stripe.Checkout.Session;
    try {
      session = await ctx.stripe.checkout.sessions.create(
        {
          mode: "payment",
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: school.currency,
                unit_amount: amount,
                product_data: { name: `${school.name} — registration of ${booking.student_name}` },
              },
            },
          ],
          payment_intent_data: {
            application_fee_amount: fee,
            transfer_data: { destination: school.stripe_account_id },
          },
          customer_email: booking.email,
          client_reference_id: booking.id,
          metadata: { school_id: school.id, payment_id: paymentId, meet_and_greet_id: booking.id },
          expires_at: Math.floor(now / 1000) + CHECKOUT_LIFETIME_SECONDS,
          success_url: `${ctx.origin}/register?school=${school.slug}&token=${token}&paid=1`,
          cancel_url: `${ctx.origin}/register?school=${school.slug}&token=${token}`,
        },
        { idempotencyKey },
      );
    } catch (error) {
      ctx.log.error({ err: error }, "stripe checkout session create failed");
      throw problems.paymentProvider();
    }
    if (!session.url) throw problems.paymentProvider();
    await tx
      .insertInto("payments")
      .values({
        id: paymentId,
        school_id: school.id,
        meet_and_greet_id: booking.id,
        checkout_session_id: session.id,
        checkout_url: session.url,
        idempotency_key: idempotencyKey,
        amount_cents: amount,
        platform_fee_cents: fee,
        currency: school.currency,
      })
      .execute();
    return { url: session.url };
  });
}

export type CompletionResult =
  | { outcome: "registered"; familyId: string }
  | { outcome: "already_paid" }
  | { outcome: "ignored"; reason: string };

/**
 * Completes a registration from a verified `checkout.session.completed` event, in one
 * transaction scoped to the school named in the session metadata: the payment must exist in that
 * school (row-level security makes another school's payment invisible), match the session and
 * amount; then the payment is marked paid, the family, the parent account (temporary password,
 * must change it), the student and the three contacts are created and the welcome e-mail is queued.
 * Any failure rolls everything back.
 */
export async function completeRegistration(
  ctx: AppContext,
  session: Stripe.Checkout.Session,
  eventId: string,
) {
  const schoolId = session.metadata?.school_id;
  const paymentId = session.metadata?.payment_id;
  if (!schoolId || !paymentId || !/^[0-9a-f-]{36}$/.test(schoolId) || !/^[0-9a-f-]{36}$/.test(paymentId)) {
    return { outcome: "ignored", reason: "metadata" } satisfies CompletionResult;
  }
  if (session.payment_status !== "paid")
    return { outcome: "ignored", reason: "unpaid" } satisfies CompletionResult;
  const tempPassword = temporaryPassword();
  const passwordHash = await ctx.auth.passwords.hash(tempPassword);
  const result = await withSchool(ctx.db, schoolId, async (tx): Promise<CompletionResult> => {
    const payment = await tx
      .selectFrom("payments")
      .selectAll()
      .where("id", "=", paymentId)
      .forUpdate()
      .executeTakeFirst();
    if (!payment || payment.checkout_session_id !== session.id || payment.school_id !== schoolId) {
      return { outcome: "ignored", reason: "unknown payment for this school" };
    }
    if (session.amount_total !== payment.amount_cents || session.currency !== payment.currency) {
      return { outcome: "ignored", reason: "amount mismatch" };
    }
    if (payment.status === "paid") return { outcome: "already_paid" };
    const already = await tx
      .selectFrom("payments")
      .select("id")
      .where("meet_and_greet_id", "=", payment.meet_and_greet_id)
      .where("status", "=", "paid")
      .executeTakeFirst();
    if (already) {
      ctx.log.error(
        { paymentId, checkoutSessionId: session.id },
        "second payment for a paid registration: refund it",
      );
      return { outcome: "already_paid" };
    }
    await tx
      .updateTable("payments")
      .set({ status: "paid", paid_at: ctx.now(), stripe_event_id: eventId })
      .where("id", "=", payment.id)
      .execute();
    const booking = await tx
      .updateTable("meet_and_greets")
      .set({ status: "registered", registration_used_at: ctx.now() })
      .where("id", "=", payment.meet_and_greet_id)
      .returningAll()
      .executeTakeFirstOrThrow();
    const school = await tx
      .selectFrom("schools")
      .selectAll()
      .where("id", "=", schoolId)
      .executeTakeFirstOrThrow();
    const primary = booking.contacts.find((c) => c.kind === "primary");
    const familyName = (primary?.name ?? booking.student_name).split(" ").at(-1) ?? booking.student_name;
    const family = await tx
      .insertInto("families")
      .values({ school_id: schoolId, meet_and_greet_id: booking.id, name: `${familyName} family` })
      .returning("id")
      .executeTakeFirstOrThrow();
    await tx
      .insertInto("students")
      .values({
        school_id: schoolId,
        family_id: family.id,
        name: booking.student_name,
        instrument: booking.instrument,
        teacher_id: booking.teacher_id,
      })
      .execute();
    await tx
      .insertInto("contacts")
      .values(
        booking.contacts.map((c) => ({
          school_id: schoolId,
          family_id: family.id,
          kind: c.kind,
          name: c.name,
          email: c.email,
          phone: c.phone,
        })),
      )
      .execute();
    const existing = await sql<{
      user_id: string;
    }>`select user_id from app_login_lookup(${booking.email})`.execute(tx);
    let credentials: string;
    if (existing.rows.length === 0) {
      await tx
        .insertInto("users")
        .values({
          school_id: schoolId,
          email: booking.email,
          name: primary?.name ?? booking.email,
          role: "parent",
          password_hash: passwordHash,
          must_change_password: true,
          family_id: family.id,
        })
        .execute();
      credentials =
        `Sign in at ${ctx.origin}/login with\n  e-mail: ${booking.email}\n  temporary password: ${tempPassword}\n` +
        "You will be asked to choose your own password at the first sign-in.";
    } else {
      credentials = `Sign in at ${ctx.origin}/login with your existing account.`;
    }
    await enqueueEmail(tx, {
      schoolId,
      to: booking.email,
      subject: `${school.name}: welcome, ${booking.student_name} is registered`,
      text:
        `Hello ${primary?.name ?? ""},\n\nWe received ${formatMoney(payment.amount_cents, payment.currency)}. ` +
        `${booking.student_name} is registered for ${booking.instrument}.\n\n${credentials}\n\n${school.name}`,
    });
    return { outcome: "registered", familyId: family.id };
  });
  if (result.outcome === "registered") void ctx.mailer.flush();
  return result;
}
