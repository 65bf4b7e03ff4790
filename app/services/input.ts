import { z } from "zod";
import { htmlSanitizer, normalizeEmail, normalizeText } from "../../src/hygiene/index.js";
import { MAX_PASSWORD_LENGTH } from "../auth/passwords.js";
import { problems } from "../http-problem.js";

/** Parses `input` with `schema`, or throws a 400 naming the fields (never echoing their values). */
export function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw problems.invalidInput(
    result.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
  );
}

const line = (max: number) =>
  z
    .string()
    .transform((v) => normalizeText(v, { allowNewlines: false, collapseWhitespace: true }))
    .pipe(z.string().min(1).max(max));

export const email = z
  .string()
  .max(320)
  .transform((value, ctx) => {
    const r = normalizeEmail(value);
    if (!r.ok) {
      ctx.addIssue({ code: "custom", message: "not a valid e-mail address" });
      return z.NEVER;
    }
    return r.email;
  });

const phone = z
  .string()
  .transform((v) => normalizeText(v, { allowNewlines: false, collapseWhitespace: true }))
  .pipe(z.string().regex(/^\+?[0-9 ()./-]{6,24}$/, "not a valid phone number"));

/** Notes are plain text: every tag is dropped (scripts with their content), so no HTML survives. */
const stripAllHtml = htmlSanitizer({ allowedTags: [] });

export const INSTRUMENTS = [
  "piano",
  "violin",
  "viola",
  "cello",
  "guitar",
  "flute",
  "clarinet",
  "trumpet",
  "drums",
  "voice",
] as const;

export const bookingInput = z.strictObject({
  studentName: line(100),
  instrument: z.enum(INSTRUMENTS),
  contacts: z.strictObject({
    primary: z.strictObject({ name: line(100), email, phone }),
    secondary: z.strictObject({ name: line(100), email: email.optional(), phone }),
    emergency: z.strictObject({ name: line(100), phone }),
  }),
  notes: z
    .string()
    .max(4_000)
    .default("")
    .transform((v) => normalizeText(stripAllHtml(v)).slice(0, 2_000)),
});
export type BookingInput = z.infer<typeof bookingInput>;

export const tokenInput = z.strictObject({
  school: z.string().regex(/^[a-z0-9-]{2,40}$/),
  token: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});

export const password = z.string().min(1).max(MAX_PASSWORD_LENGTH);

export const loginInput = z.strictObject({ email, password });
export const changePasswordInput = z.strictObject({ currentPassword: password, newPassword: password });
export const resetRequestInput = z.strictObject({ email });
export const resetCompleteInput = tokenInput.extend({ newPassword: password });
export const approveInput = z.strictObject({ teacherId: z.uuid() });
export const uuidParam = z.uuid();
