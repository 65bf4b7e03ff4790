import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Running } from "../../app/start.js";
import { createLogger } from "../../src/observe/index.js";
import { Browserless, bookingBody, linkFromOutbox, startTestApp, stopTestApp } from "./harness.js";

/** The app's logs go through bulwark's redacting logger: links, passwords and cookies never appear. */
describe("logs", () => {
  const lines: string[] = [];
  let app: Running;

  beforeAll(async () => {
    const logger = createLogger({
      level: "info",
      destination: { write: (line: string) => lines.push(line) },
    });
    app = await startTestApp({ logger });
  });
  afterAll(async () => {
    await stopTestApp(app);
  });

  it("logs each request with its id, and never a token, password or cookie", async () => {
    const family = new Browserless(app.url, "127.0.10.1");
    const email = "logged@example.com";
    await family.post("/api/schools/riverside/meet-and-greets", bookingBody({ email }));
    const link = await linkFromOutbox(app, email, "/verify-email");
    const token = link.searchParams.get("token")!;
    await family.get(`/verify-email?school=riverside&token=${token}`);
    await family.post("/api/auth/login", {
      email: "admin@riverside.test",
      password: "a wrong guess for the log",
    });
    const all = lines.join("\n");
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
    expect(
      requests.some((r) => r.url.startsWith("/verify-email?") && r.url.includes("token=[REDACTED]")),
    ).toBe(true);
    expect(requests.every((r) => typeof r.requestId === "string")).toBe(true);
    expect(all).not.toContain(token);
    expect(all).not.toContain("a wrong guess for the log");
    expect(all).not.toContain(family.cookies.get("__Host-bulwark-csrf") ?? "no cookie");
  });
});
