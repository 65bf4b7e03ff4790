import type { Kysely } from "kysely";
import nodemailer, { type Transporter } from "nodemailer";
import type { Database } from "../db/schema.js";
import type { Tx } from "../db/tenant.js";

/**
 * A transactional outbox: the business transaction that decides to send an e-mail inserts it into
 * `email_outbox` (so a rolled-back registration sends nothing, and a committed one cannot lose its
 * mail). With SMTP configured, `flush()` sends unsent rows through nodemailer and marks them sent;
 * without it they stay in the table and the /outbox page shows them.
 */

export interface OutgoingEmail {
  schoolId: string;
  to: string;
  subject: string;
  text: string;
}

export function enqueueEmail(tx: Tx, email: OutgoingEmail): Promise<unknown> {
  return tx
    .insertInto("email_outbox")
    .values({
      school_id: email.schoolId,
      to_address: email.to,
      subject: email.subject,
      text_body: email.text,
    })
    .execute();
}

export interface Mailer {
  /** "smtp" sends; "outbox" only stores (the development outbox page). */
  readonly mode: "smtp" | "outbox";
  /** Sends every unsent message (SMTP mode); a no-op in outbox mode. Never throws. */
  flush(): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  db: Kysely<Database>;
  smtpUrl?: string | undefined;
  from: string;
  onError?: (error: unknown) => void;
}

export function createMailer(options: MailerOptions): Mailer {
  if (!options.smtpUrl) return { mode: "outbox", flush: async () => {}, close() {} };
  const transport: Transporter = nodemailer.createTransport(options.smtpUrl);
  let running: Promise<void> | undefined;
  // The outbox is read across schools by the owner connection: sending is the platform's job.
  const flushOnce = async () => {
    const rows = await options.db
      .selectFrom("email_outbox")
      .selectAll()
      .where("sent_at", "is", null)
      .orderBy("created_at")
      .limit(50)
      .execute();
    for (const row of rows) {
      try {
        await transport.sendMail({
          from: options.from,
          to: row.to_address,
          subject: row.subject,
          text: row.text_body,
        });
        await options.db
          .updateTable("email_outbox")
          .set({ sent_at: new Date() })
          .where("id", "=", row.id)
          .execute();
      } catch (error) {
        options.onError?.(error);
        return;
      }
    }
  };
  return {
    mode: "smtp",
    flush() {
      running ??= flushOnce()
        .catch((error: unknown) => options.onError?.(error))
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    close() {
      transport.close();
    },
  };
}
