import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppDatabase, openDatabase } from "../db/database.js";
import { withSchool } from "../db/tenant.js";
import { createMailer, enqueueEmail } from "./outbox.js";

/** A minimal SMTP server (RFC 5321 happy path, no TLS, no auth) that records what it receives. */
async function smtpSink() {
  const messages: { from: string; to: string[]; data: string }[] = [];
  const server: Server = createServer((socket) => {
    let buffer = "";
    let inData = false;
    let current = { from: "", to: [] as string[], data: "" };
    socket.write("220 sink ESMTP\r\n");
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      for (;;) {
        if (inData) {
          const end = buffer.indexOf("\r\n.\r\n");
          if (end === -1) return;
          current.data = buffer.slice(0, end);
          buffer = buffer.slice(end + 5);
          messages.push(current);
          current = { from: "", to: [], data: "" };
          inData = false;
          socket.write("250 queued\r\n");
          continue;
        }
        const eol = buffer.indexOf("\r\n");
        if (eol === -1) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO" || verb === "HELO") socket.write("250 sink\r\n");
        else if (verb === "MAIL") {
          current.from = line;
          socket.write("250 ok\r\n");
        } else if (verb === "RCPT") {
          current.to.push(line);
          socket.write("250 ok\r\n");
        } else if (verb === "DATA") {
          inData = true;
          socket.write("354 go on\r\n");
        } else if (verb === "QUIT") {
          socket.end("221 bye\r\n");
        } else socket.write("250 ok\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { port, messages, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("the e-mail outbox", () => {
  let database: AppDatabase;
  let sink: Awaited<ReturnType<typeof smtpSink>>;
  let schoolId: string;

  beforeAll(async () => {
    database = await openDatabase();
    sink = await smtpSink();
    const school = await database.db
      .insertInto("schools")
      .values({
        slug: "mail",
        name: "Mail School",
        stripe_account_id: "acct_mail",
        registration_fee_cents: 100,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    schoolId = school.id;
  });
  afterAll(async () => {
    await sink.close();
    await database.close();
  });

  it("sends nothing for a rolled-back transaction, and sends a committed message once over SMTP", async () => {
    await expect(
      withSchool(database.db, schoolId, async (tx) => {
        await enqueueEmail(tx, { schoolId, to: "lost@example.com", subject: "never", text: "never sent" });
        throw new Error("the business transaction failed");
      }),
    ).rejects.toThrow("failed");
    await withSchool(database.db, schoolId, (tx) =>
      enqueueEmail(tx, {
        schoolId,
        to: "kept@example.com",
        subject: "Welcome",
        text: "Hello from the outbox",
      }),
    );
    const mailer = createMailer({
      db: database.db,
      smtpUrl: `smtp://127.0.0.1:${sink.port}`,
      from: "School <office@example.com>",
    });
    try {
      await mailer.flush();
      await mailer.flush(); // nothing left to send
    } finally {
      mailer.close();
    }
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]!.to).toEqual(["RCPT TO:<kept@example.com>"]);
    expect(sink.messages[0]!.data).toContain("Subject: Welcome");
    expect(sink.messages[0]!.data).toContain("Hello from the outbox");
    const rows = await database.db.selectFrom("email_outbox").select(["to_address", "sent_at"]).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.to_address).toBe("kept@example.com");
    expect(rows[0]!.sent_at).toBeInstanceOf(Date);
  });

  it("keeps messages in the table without SMTP (the outbox page mode)", async () => {
    const mailer = createMailer({ db: database.db, from: "x@example.com" });
    expect(mailer.mode).toBe("outbox");
    await mailer.flush();
  });
});
