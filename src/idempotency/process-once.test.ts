import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import { memoryLedger } from "../stores/memory/idempotency.js";
import { processOnce } from "./process-once.js";
import type { ProcessLedger } from "./types.js";

describe("processOnce", () => {
  it("hands the handler its event id and attempt, and stores the result", async () => {
    const ledger = memoryLedger();
    const r = await processOnce("evt_1", (ctx) => ({ seen: ctx.eventId, attempt: ctx.attempt }), { ledger });
    expect(r).toEqual({ status: "processed", result: { seen: "evt_1", attempt: 1 }, attempt: 1 });
    expect(await ledger.get("evt_1")).toMatchObject({ state: "done", result: { seen: "evt_1", attempt: 1 } });
  });

  it("stores undefined as null and returns the JSON round-trip to duplicates", async () => {
    const ledger = memoryLedger();
    await processOnce("evt_u", () => undefined, { ledger });
    expect(await processOnce("evt_u", () => 1, { ledger })).toEqual({
      status: "duplicate",
      result: null,
      attempts: 1,
    });
    await processOnce("evt_d", () => ({ at: new Date(0) }), { ledger });
    expect(await processOnce("evt_d", () => 1, { ledger })).toMatchObject({
      result: { at: "1970-01-01T00:00:00.000Z" },
    });
  });

  it("answers in_progress with the lease left while another attempt runs", async () => {
    const clock = manualClock();
    const ledger = memoryLedger({ clock });
    await ledger.claim("evt_busy", "someone", 60_000);
    clock.advance(20_000);
    expect(await processOnce("evt_busy", () => 1, { ledger })).toEqual({
      status: "in_progress",
      retryAfterMs: 40_000,
    });
  });

  it("extends its own lease from the handler", async () => {
    const clock = manualClock();
    const ledger = memoryLedger({ clock });
    const r = await processOnce(
      "evt_long",
      async (ctx) => {
        clock.advance(50_000);
        const extended = await ctx.extendLease();
        clock.advance(50_000);
        const still = await ledger.claim("evt_long", "intruder", 60_000);
        return { extended, intruderClaimed: still.claimed };
      },
      { ledger, leaseMs: 60_000 },
    );
    expect(r).toEqual({
      status: "processed",
      result: { extended: true, intruderClaimed: false },
      attempt: 1,
    });
  });

  it("fails an attempt whose result is not JSON-serialisable, and lets the next delivery retry", async () => {
    const ledger = memoryLedger();
    const r = await processOnce("evt_big", () => 10n, { ledger, logger: memoryLogger() });
    expect(r).toMatchObject({ status: "failed", attempt: 1 });
    expect(await ledger.get("evt_big")).toMatchObject({ state: "failed", lastError: "TypeError" });
    expect(await processOnce("evt_big", () => "ok", { ledger })).toMatchObject({
      status: "processed",
      attempt: 2,
    });
  });

  it("records an error's code (never its message) as the last error", async () => {
    const ledger = memoryLedger();
    const error = Object.assign(new Error("card 4242 4242 4242 4242 declined"), { code: "card_declined" });
    await processOnce("evt_code", () => Promise.reject(error), { ledger });
    const record = await ledger.get("evt_code");
    expect(record?.lastError).toBe("card_declined");
    expect(JSON.stringify(record)).not.toContain("4242");
  });

  it("throws ERR_STORE_UNAVAILABLE when the ledger cannot claim or complete", async () => {
    const down: ProcessLedger = {
      ...memoryLedger(),
      kind: "down",
      claim: () => Promise.reject(new Error("ECONNREFUSED")),
    };
    await expect(processOnce("evt", () => 1, { ledger: down })).rejects.toMatchObject({
      code: "ERR_STORE_UNAVAILABLE",
      status: 503,
    });
    const noComplete: ProcessLedger = {
      ...memoryLedger(),
      complete: () => Promise.reject(new Error("timeout")),
    };
    await expect(processOnce("evt", () => 1, { ledger: noComplete })).rejects.toMatchObject({
      code: "ERR_STORE_UNAVAILABLE",
    });
  });

  it("still reports a handler failure when the ledger cannot record it, and logs", async () => {
    const logger = memoryLogger();
    const ledger: ProcessLedger = { ...memoryLedger(), fail: () => Promise.reject(new Error("timeout")) };
    const boom = new RangeError("x");
    expect(await processOnce("evt", () => Promise.reject(boom), { ledger, logger })).toEqual({
      status: "failed",
      error: boom,
      attempt: 1,
    });
    expect(logger.entries[0]).toMatchObject({ level: "error", code: "ERR_STORE_UNAVAILABLE" });
  });

  it.each([
    ["an empty event id", "", {}],
    ["an event id over 512 characters", "e".repeat(513), {}],
    ["a zero lease", "evt", { leaseMs: 0 }],
    ["an unknown option", "evt", { lease: 5 }],
    ["no ledger", "evt", { ledger: undefined }],
  ])("refuses %s with ERR_CONFIG_INVALID", async (_name, eventId, extra) => {
    try {
      await processOnce(eventId as string, () => 1, { ledger: memoryLedger(), ...extra } as never);
      expect.unreachable();
    } catch (e) {
      expect(isBulwarkError(e, "ERR_CONFIG_INVALID")).toBe(true);
    }
  });

  it("refuses a handler that is not a function", async () => {
    await expect(processOnce("evt", "nope" as never, { ledger: memoryLedger() })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
  });
});
