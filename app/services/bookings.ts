import { randomUUID } from "node:crypto";
import { accountRef, parseAccountRef } from "../auth/kit.js";
import type { AppContext } from "../context.js";
import { REGISTRATION_TTL_MS } from "../context.js";
import type { BookingContact, School } from "../db/schema.js";
import { withoutSchool, withSchool } from "../db/tenant.js";
import { problems } from "../http-problem.js";
import { enqueueEmail } from "../mail/outbox.js";
import { formatMoney } from "../money.js";
import { newToken } from "../tokens.js";
import type { BookingInput } from "./input.js";

export async function schoolBySlug(ctx: AppContext, slug: string): Promise<School> {
  const school = await withoutSchool(ctx.db, (tx) =>
    tx.selectFrom("schools").selectAll().where("slug", "=", slug).executeTakeFirst(),
  );
  if (!school) throw problems.notFound();
  return school;
}

export function listSchools(ctx: AppContext) {
  return withoutSchool(ctx.db, (tx) =>
    tx
      .selectFrom("schools")
      .select(["slug", "name", "registration_fee_cents", "currency"])
      .orderBy("name")
      .execute(),
  );
}

/**
 * Records a Meet & Greet request and mails a verification link to the primary contact. The answer
 * is the same whatever the address (known family, new family): nothing to enumerate.
 */
export async function createBooking(ctx: AppContext, slug: string, input: BookingInput): Promise<void> {
  const school = await schoolBySlug(ctx, slug);
  const bookingId = randomUUID();
  // A one-time e-mail verification token (bulwark/auth): 24 hours, exactly one use.
  const { token } = await ctx.auth.oneTime.issue({
    accountId: accountRef("booking", school.id, bookingId),
    purpose: "verify-email",
  });
  const contacts: BookingContact[] = [
    { kind: "primary", ...input.contacts.primary },
    { kind: "secondary", ...input.contacts.secondary, email: input.contacts.secondary.email ?? null },
    { kind: "emergency", ...input.contacts.emergency, email: null },
  ];
  const link = `${ctx.origin}/verify-email?school=${school.slug}&token=${token}`;
  await withSchool(ctx.db, school.id, async (tx) => {
    await tx
      .insertInto("meet_and_greets")
      .values({
        id: bookingId,
        school_id: school.id,
        student_name: input.studentName,
        instrument: input.instrument,
        contacts: JSON.stringify(contacts),
        email: input.contacts.primary.email,
        notes: input.notes,
      })
      .execute();
    await enqueueEmail(tx, {
      schoolId: school.id,
      to: input.contacts.primary.email,
      subject: `${school.name}: confirm your Meet & Greet request`,
      text:
        `Hello ${input.contacts.primary.name},\n\nPlease confirm the Meet & Greet request for ` +
        `${input.studentName} (${input.instrument}) by opening this link within 24 hours:\n\n${link}\n\n` +
        `If you did not ask for this, ignore this message.\n\n${school.name}`,
    });
  });
  void ctx.mailer.flush();
}

/** Consumes a verification link: exactly one use, 24 hours, and only for the school it names. */
export async function verifyBookingEmail(ctx: AppContext, slug: string, token: string): Promise<void> {
  const school = await schoolBySlug(ctx, slug);
  const consumed = await ctx.auth.oneTime.consume(token, "verify-email");
  const s = consumed.ok ? parseAccountRef(consumed.accountId) : undefined;
  if (s?.kind !== "booking" || s.schoolId !== school.id) throw problems.tokenInvalid();
  const verified = await withSchool(ctx.db, school.id, (tx) =>
    tx
      .updateTable("meet_and_greets")
      .set({ status: "pending_approval", verified_at: ctx.now() })
      .where("id", "=", s.id)
      .where("status", "=", "pending_verification")
      .returning("id")
      .executeTakeFirst(),
  );
  if (!verified) throw problems.tokenInvalid();
}

export function listMeetAndGreets(ctx: AppContext, schoolId: string, status?: string) {
  return withSchool(ctx.db, schoolId, (tx) => {
    let q = tx
      .selectFrom("meet_and_greets as m")
      .leftJoin("users as t", "t.id", "m.teacher_id")
      .select([
        "m.id",
        "m.student_name",
        "m.instrument",
        "m.contacts",
        "m.email",
        "m.notes",
        "m.status",
        "m.created_at",
        "m.verified_at",
        "m.approved_at",
        "t.name as teacher_name",
      ])
      .orderBy("m.created_at", "desc")
      .limit(200);
    if (status) q = q.where("m.status", "=", status as never);
    return q.execute();
  });
}

export function listTeachers(ctx: AppContext, schoolId: string) {
  return withSchool(ctx.db, schoolId, (tx) =>
    tx
      .selectFrom("users")
      .select(["id", "name", "email"])
      .where("role", "=", "teacher")
      .orderBy("name")
      .execute(),
  );
}

/**
 * Approves a verified request, assigns the teacher and mails the family a registration link
 * (single use, valid 7 days) to pay and complete the registration.
 */
export async function approveBooking(
  ctx: AppContext,
  schoolId: string,
  bookingId: string,
  teacherId: string,
) {
  const { token, hash } = newToken();
  await withSchool(ctx.db, schoolId, async (tx) => {
    const school = await tx
      .selectFrom("schools")
      .selectAll()
      .where("id", "=", schoolId)
      .executeTakeFirstOrThrow();
    const teacher = await tx
      .selectFrom("users")
      .select(["id", "name"])
      .where("id", "=", teacherId)
      .where("role", "=", "teacher")
      .executeTakeFirst();
    if (!teacher)
      throw problems.invalidInput([{ path: "teacherId", message: "not a teacher of this school" }]);
    const booking = await tx
      .updateTable("meet_and_greets")
      .set({
        status: "approved",
        teacher_id: teacher.id,
        approved_at: ctx.now(),
        registration_token_hash: hash,
        registration_expires_at: new Date(ctx.now().getTime() + REGISTRATION_TTL_MS),
      })
      .where("id", "=", bookingId)
      .where("status", "=", "pending_approval")
      .returning(["student_name", "email", "contacts"])
      .executeTakeFirst();
    if (!booking) {
      const exists = await tx
        .selectFrom("meet_and_greets")
        .select("id")
        .where("id", "=", bookingId)
        .executeTakeFirst();
      throw exists ? problems.conflict() : problems.notFound();
    }
    const primary = booking.contacts.find((c) => c.kind === "primary");
    await enqueueEmail(tx, {
      schoolId,
      to: booking.email,
      subject: `${school.name}: ${booking.student_name} is welcome — complete the registration`,
      text:
        `Hello ${primary?.name ?? ""},\n\n${booking.student_name} will study with ${teacher.name}. ` +
        `To complete the registration, pay the registration fee of ` +
        `${formatMoney(school.registration_fee_cents, school.currency)} here (link valid for 7 days):\n\n` +
        `${ctx.origin}/register?school=${school.slug}&token=${token}\n\n${school.name}`,
    });
  });
  void ctx.mailer.flush();
}
