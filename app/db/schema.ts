import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/** Kysely's view of the app's tables (see migrations.ts for the DDL and the row-level security). */

type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export type Role = "admin" | "teacher" | "parent" | "student";

export type BookingStatus =
  | "pending_verification"
  | "pending_approval"
  | "approved"
  | "registered"
  | "rejected";

export type PaymentStatus = "pending" | "paid" | "expired";

export interface BookingContact {
  kind: "primary" | "secondary" | "emergency";
  name: string;
  email: string | null;
  phone: string;
}

export interface SchoolsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  /** The school's Stripe Connect account (`acct_…`): payments are destination charges to it. */
  stripe_account_id: string;
  /** The Meet & Greet registration fee, in the smallest currency unit. */
  registration_fee_cents: number;
  currency: Generated<string>;
  created_at: CreatedAt;
}

export interface UsersTable {
  id: Generated<string>;
  school_id: string;
  email: string;
  name: string;
  role: Role;
  password_hash: string;
  must_change_password: Generated<boolean>;
  /** Bumped on every password change: outstanding reset links die with it (bulwark/auth one-time tokens). */
  password_version: Generated<number>;
  family_id: string | null;
  created_at: CreatedAt;
}

export interface MeetAndGreetsTable {
  id: Generated<string>;
  school_id: string;
  student_name: string;
  instrument: string;
  contacts: ColumnType<BookingContact[], string, string>;
  /** Normalised e-mail address of the primary contact. */
  email: string;
  notes: string;
  status: Generated<BookingStatus>;
  verified_at: NullableTimestamp;
  teacher_id: string | null;
  approved_at: NullableTimestamp;
  registration_token_hash: string | null;
  registration_expires_at: NullableTimestamp;
  registration_used_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface PaymentsTable {
  id: Generated<string>;
  school_id: string;
  meet_and_greet_id: string;
  checkout_session_id: string;
  checkout_url: string;
  idempotency_key: string;
  amount_cents: number;
  platform_fee_cents: number;
  currency: string;
  status: Generated<PaymentStatus>;
  stripe_event_id: string | null;
  created_at: CreatedAt;
  paid_at: NullableTimestamp;
}

export interface FamiliesTable {
  id: Generated<string>;
  school_id: string;
  meet_and_greet_id: string;
  name: string;
  created_at: CreatedAt;
}

export interface StudentsTable {
  id: Generated<string>;
  school_id: string;
  family_id: string;
  name: string;
  instrument: string;
  teacher_id: string | null;
  created_at: CreatedAt;
}

export interface ContactsTable {
  id: Generated<string>;
  school_id: string;
  family_id: string;
  kind: BookingContact["kind"];
  name: string;
  email: string | null;
  phone: string;
}

export interface EmailOutboxTable {
  id: Generated<string>;
  school_id: string;
  to_address: string;
  subject: string;
  text_body: string;
  created_at: CreatedAt;
  sent_at: NullableTimestamp;
}

export interface Database {
  schools: SchoolsTable;
  users: UsersTable;
  meet_and_greets: MeetAndGreetsTable;
  payments: PaymentsTable;
  families: FamiliesTable;
  students: StudentsTable;
  contacts: ContactsTable;
  email_outbox: EmailOutboxTable;
}

export type School = Selectable<SchoolsTable>;
export type User = Selectable<UsersTable>;
export type MeetAndGreet = Selectable<MeetAndGreetsTable>;
export type Payment = Selectable<PaymentsTable>;
export type NewUser = Insertable<UsersTable>;
