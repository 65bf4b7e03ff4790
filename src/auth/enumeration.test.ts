import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { memoryLogger } from "../core/logger.js";
import { enumerationSafe } from "./enumeration.js";
import { memoryAuthStore } from "./memory.js";
import { oneTimeTokens } from "./onetime.js";
import { passwordHasher } from "./password.js";
import { compareTimings } from "./timing.js";

/** A forgot-password flow as an app writes it: look up, issue a reset token, "send" it. */
function forgotPasswordApp() {
  const users = new Map([["alice@example.com", { id: "alice" }]]);
  const outbox: Array<{ to: string; token: string }> = [];
  const tokens = oneTimeTokens({
    store: memoryAuthStore(),
    clock: manualClock(),
    currentEpoch: async () => "e",
  });
  // Sending mail is slow and only happens for existing accounts: exactly the timing oracle to hide.
  const hasher = passwordHasher({
    memoryCostKiB: 2048,
    timeCost: 1,
    dangerouslyAllowWeakParameters: true,
    logger: memoryLogger(),
  });
  const forgot = enumerationSafe<string>({
    logger: memoryLogger(),
    maxPending: 1000,
    work: async (email) => {
      const user = users.get(email.toLowerCase());
      if (user === undefined) return;
      const { token } = await tokens.issue({ accountId: user.id, purpose: "reset-password" });
      await hasher.hash("simulated SMTP latency");
      outbox.push({ to: email, token });
    },
  });
  return { forgot, outbox };
}

describe("enumerationSafe", () => {
  it("answers 202 with the same headers and body for existing and unknown addresses", async () => {
    const { forgot, outbox } = forgotPasswordApp();
    const known = forgot("alice@example.com");
    const unknown = forgot("nobody@example.com");
    expect(known).toEqual(unknown);
    expect(known).toEqual({
      action: "respond",
      status: 202,
      headers: [
        ["content-type", "application/json"],
        ["cache-control", "no-store"],
      ],
      body: '{"message":"If an account exists for this address, we have sent an email."}',
    });
    await forgot.idle();
    expect(outbox.map((m) => m.to)).toEqual(["alice@example.com"]);
  });

  it("answers before the work runs, so its duration cannot show (timing compared over 150 tries each)", async () => {
    const { forgot } = forgotPasswordApp();
    const known: number[] = [];
    const unknown: number[] = [];
    const time = (email: string) => {
      const start = performance.now();
      forgot(email);
      return performance.now() - start;
    };
    for (let i = 0; i < 150; i++) {
      if (i % 2 === 0) {
        known.push(time("alice@example.com"));
        unknown.push(time("nobody@example.com"));
      } else {
        unknown.push(time("nobody@example.com"));
        known.push(time("alice@example.com"));
      }
      if (i % 10 === 9) await forgot.idle();
    }
    await forgot.idle();
    const c = compareTimings(known, unknown);
    expect(c.superiority, JSON.stringify(c)).toBeGreaterThan(0.35);
    expect(c.superiority, JSON.stringify(c)).toBeLessThan(0.65);
  });

  it("logs failures of the work without the input, and still answers the same", async () => {
    const logger = memoryLogger();
    const flow = enumerationSafe<string>({
      logger,
      work: async () => {
        throw new Error("smtp down for secret@example.com");
      },
    });
    expect(flow("secret@example.com").status).toBe(202);
    await flow.idle();
    expect(logger.entries).toEqual([
      { level: "error", code: "ERR_AUTH_BACKGROUND_FAILED", msg: "enumerationSafe: background work failed" },
    ]);
  });

  it("drops jobs beyond maxPending (logged) but answers the same", async () => {
    const logger = memoryLogger();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let ran = 0;
    const flow = enumerationSafe<number>({
      logger,
      maxPending: 2,
      work: async () => {
        ran++;
        await gate;
      },
    });
    const answers = [flow(1), flow(2), flow(3)];
    expect(new Set(answers).size).toBe(1);
    expect(flow.pending).toBe(2);
    release();
    await flow.idle();
    expect(ran).toBe(2);
    expect(logger.entries.map((e) => e.code)).toEqual(["ERR_AUTH_BACKGROUND_DROPPED"]);
  });

  it("uses a custom status and message, and refuses bad options", () => {
    const flow = enumerationSafe({ work: async () => {}, status: 200, message: "Check your inbox." });
    expect(flow("x")).toMatchObject({ status: 200, body: '{"message":"Check your inbox."}' });
    expect(() => enumerationSafe({} as never)).toThrow(/"work"/);
    expect(() => enumerationSafe({ work: async () => {}, status: 404 })).toThrow(/status/);
    expect(() => enumerationSafe({ work: async () => {}, maxPending: 0 })).toThrow(/maxPending/);
    expect(() => enumerationSafe({ work: async () => {}, wrk: 1 } as never)).toThrow(/did you mean/);
  });
});
