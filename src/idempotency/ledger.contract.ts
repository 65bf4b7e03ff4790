import { describe, expect, it } from "vitest";
import type { ManualClock } from "../core/clock.js";
import { memoryLogger } from "../core/logger.js";
import { processOnce } from "./process-once.js";
import type { IdempotencyStore, ProcessLedger, StoredResponse } from "./types.js";

/**
 * The behaviour every ProcessLedger and IdempotencyStore must show, run by each store's test file.
 * The fixture's store reads `clock` (a manual clock), so leases and expiry are tested without sleeping.
 */

let counter = 0;
const unique = (label: string) => `${label}:${process.pid}:${Date.now()}:${counter++}`;

export function ledgerContract(
  name: string,
  make: () => Promise<{ ledger: ProcessLedger; clock: ManualClock }>,
): void {
  describe(`${name} ledger contract`, () => {
    it("lets exactly one of 20 concurrent claims of one event win", async () => {
      const { ledger } = await make();
      const id = unique("claim");
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => ledger.claim(id, `owner-${i}`, 60_000)),
      );
      expect(results.filter((r) => r.claimed)).toEqual([{ claimed: true, attempt: 1 }]);
      for (const r of results.filter((r) => !r.claimed)) {
        expect(r).toMatchObject({
          claimed: false,
          record: { eventId: id, state: "processing", attempts: 1 },
        });
      }
    });

    it("reports the lease left to a claim that loses", async () => {
      const { ledger, clock } = await make();
      const id = unique("lease-left");
      await ledger.claim(id, "a", 60_000);
      clock.advance(10_000);
      const r = await ledger.claim(id, "b", 60_000);
      if (r.claimed) throw new Error("expected the claim to lose");
      expect(r.record.leaseRemainingMs).toBeGreaterThan(49_000);
      expect(r.record.leaseRemainingMs).toBeLessThanOrEqual(50_000);
    });

    it("completes only for the owner, then answers every claim with the stored result", async () => {
      const { ledger } = await make();
      const id = unique("complete");
      await ledger.claim(id, "a", 60_000);
      expect(await ledger.complete(id, "b", '{"x":1}')).toBe(false);
      expect(await ledger.complete(id, "a", '{"paid":true,"cents":2500,"tags":["a",null]}')).toBe(true);
      expect(await ledger.complete(id, "a", '{"again":true}')).toBe(false);
      const r = await ledger.claim(id, "c", 60_000);
      expect(r).toEqual({
        claimed: false,
        record: {
          eventId: id,
          state: "done",
          attempts: 1,
          result: { paid: true, cents: 2500, tags: ["a", null] },
        },
      });
      expect(await ledger.get(id)).toEqual({
        eventId: id,
        state: "done",
        attempts: 1,
        result: { paid: true, cents: 2500, tags: ["a", null] },
      });
    });

    it("marks a failure only for the owner and lets the next claim retry", async () => {
      const { ledger } = await make();
      const id = unique("fail");
      await ledger.claim(id, "a", 60_000);
      expect(await ledger.fail(id, "b", "TypeError")).toBe(false);
      expect(await ledger.fail(id, "a", "TypeError")).toBe(true);
      expect(await ledger.get(id)).toEqual({
        eventId: id,
        state: "failed",
        attempts: 1,
        lastError: "TypeError",
      });
      expect(await ledger.claim(id, "c", 60_000)).toEqual({ claimed: true, attempt: 2 });
      expect(await ledger.get(id)).toMatchObject({ state: "processing", attempts: 2 });
      expect((await ledger.get(id))?.lastError).toBeUndefined();
    });

    it("hands an event over once its lease expires, and the old owner can no longer settle it", async () => {
      const { ledger, clock } = await make();
      const id = unique("expire");
      await ledger.claim(id, "crashed", 30_000);
      clock.advance(29_999);
      expect((await ledger.claim(id, "b", 30_000)).claimed).toBe(false);
      clock.advance(1);
      expect(await ledger.claim(id, "b", 30_000)).toEqual({ claimed: true, attempt: 2 });
      expect(await ledger.complete(id, "crashed", "1")).toBe(false);
      expect(await ledger.fail(id, "crashed", "Error")).toBe(false);
      expect(await ledger.complete(id, "b", "2")).toBe(true);
      expect(await ledger.get(id)).toMatchObject({ state: "done", attempts: 2, result: 2 });
    });

    it("extends a lease only for its owner and only before it expires", async () => {
      const { ledger, clock } = await make();
      const id = unique("extend");
      await ledger.claim(id, "a", 10_000);
      clock.advance(9_000);
      expect(await ledger.extend(id, "b", 10_000)).toBe(false);
      expect(await ledger.extend(id, "a", 10_000)).toBe(true);
      clock.advance(9_000);
      expect((await ledger.claim(id, "b", 10_000)).claimed).toBe(false);
      clock.advance(1_001);
      expect(await ledger.extend(id, "a", 10_000)).toBe(false);
      expect((await ledger.claim(id, "b", 10_000)).claimed).toBe(true);
    });

    it("records a received event once and never downgrades a known one", async () => {
      const { ledger } = await make();
      const id = unique("receive");
      expect(await ledger.get(id)).toBeUndefined();
      await ledger.receive(id);
      await ledger.receive(id);
      expect(await ledger.get(id)).toEqual({ eventId: id, state: "received", attempts: 0 });
      expect(await ledger.claim(id, "a", 60_000)).toEqual({ claimed: true, attempt: 1 });
      await ledger.complete(id, "a", "null");
      await ledger.receive(id);
      expect(await ledger.get(id)).toEqual({ eventId: id, state: "done", attempts: 1, result: null });
    });

    it("runs processOnce exactly once under 30 concurrent deliveries and replays the stored result", async () => {
      const { ledger } = await make();
      const id = unique("process");
      let effects = 0;
      const handler = async () => {
        effects++;
        await new Promise((r) => setImmediate(r));
        return { paid: true };
      };
      const results = await Promise.all(
        Array.from({ length: 30 }, () => processOnce(id, handler, { ledger, logger: memoryLogger() })),
      );
      expect(effects).toBe(1);
      expect(results.filter((r) => r.status === "processed")).toEqual([
        { status: "processed", result: { paid: true }, attempt: 1 },
      ]);
      expect(results.every((r) => ["processed", "in_progress", "duplicate"].includes(r.status))).toBe(true);
      expect(await processOnce(id, handler, { ledger })).toEqual({
        status: "duplicate",
        result: { paid: true },
        attempts: 1,
      });
    });

    it("retries a throwing handler on the next delivery", async () => {
      const { ledger } = await make();
      const id = unique("retry");
      const boom = new TypeError("card processor down");
      const first = await processOnce(id, () => Promise.reject(boom), { ledger, logger: memoryLogger() });
      expect(first).toEqual({ status: "failed", error: boom, attempt: 1 });
      expect(await ledger.get(id)).toMatchObject({ state: "failed", lastError: "TypeError" });
      const second = await processOnce(id, (ctx) => ({ attempt: ctx.attempt }), { ledger });
      expect(second).toEqual({ status: "processed", result: { attempt: 2 }, attempt: 2 });
    });

    it("takes over a crashed attempt after its lease and reports the straggler as lease_lost", async () => {
      const { ledger, clock } = await make();
      const id = unique("takeover");
      const logger = memoryLogger();
      let release!: () => void;
      const straggler = processOnce(
        id,
        () =>
          new Promise<string>((resolve) => {
            release = () => resolve("late");
          }),
        { ledger, leaseMs: 5_000, logger },
      );
      await waitFor(() => release !== undefined);
      expect(await processOnce(id, () => "early", { ledger, leaseMs: 5_000 })).toMatchObject({
        status: "in_progress",
      });
      clock.advance(5_001);
      expect(await processOnce(id, () => "second", { ledger, leaseMs: 5_000 })).toEqual({
        status: "processed",
        result: "second",
        attempt: 2,
      });
      release();
      expect(await straggler).toEqual({ status: "lease_lost", result: "late", attempt: 1 });
      expect(logger.entries.map((e) => e.code)).toContain("ERR_IDEMPOTENCY_LEASE_LOST");
      expect(await ledger.get(id)).toMatchObject({ state: "done", result: "second" });
    });
  });
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setTimeout(r, 1));
  if (!condition()) throw new Error("condition never became true");
}

const RESPONSE: StoredResponse = {
  status: 201,
  headers: [
    ["content-type", "application/json"],
    ["location", "/payments/42"],
  ],
  body: Uint8Array.from({ length: 256 }, (_, i) => i),
};

export function idempotencyStoreContract(
  name: string,
  make: () => Promise<{ store: IdempotencyStore; clock: ManualClock }>,
): void {
  describe(`${name} idempotency store contract`, () => {
    it("acquires a new key for exactly one of 20 concurrent requests", async () => {
      const { store } = await make();
      const key = unique("begin");
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.begin(key, "fp-1", `token-${i}`, 60_000)),
      );
      expect(results.filter((r) => r.state === "acquired")).toHaveLength(1);
      for (const r of results.filter((r) => r.state !== "acquired")) {
        expect(r).toMatchObject({ state: "in_flight", fingerprint: "fp-1" });
        if (r.state === "in_flight") {
          expect(r.retryAfterMs).toBeGreaterThan(0);
          expect(r.retryAfterMs).toBeLessThanOrEqual(60_000);
        }
      }
    });

    it("stores the response for the owner only and replays status, headers and exact bytes", async () => {
      const { store } = await make();
      const key = unique("complete");
      await store.begin(key, "fp-1", "t1", 60_000);
      expect(await store.complete(key, "t2", RESPONSE, 3_600_000)).toBe(false);
      expect(await store.complete(key, "t1", RESPONSE, 3_600_000)).toBe(true);
      expect(await store.complete(key, "t1", RESPONSE, 3_600_000)).toBe(false);
      const again = await store.begin(key, "fp-2", "t3", 60_000);
      expect(again.state).toBe("completed");
      if (again.state !== "completed") return;
      expect(again.fingerprint).toBe("fp-1");
      expect(again.response.status).toBe(201);
      expect(again.response.headers).toEqual(RESPONSE.headers);
      expect(Array.from(again.response.body)).toEqual(Array.from(RESPONSE.body));
    });

    it("releases an in-flight key for its owner only", async () => {
      const { store } = await make();
      const key = unique("release");
      await store.begin(key, "fp", "t1", 60_000);
      await store.release(key, "t2");
      expect((await store.begin(key, "fp", "t3", 60_000)).state).toBe("in_flight");
      await store.release(key, "t1");
      expect((await store.begin(key, "fp", "t4", 60_000)).state).toBe("acquired");
    });

    it("frees a crashed request's key when its lock expires; the straggler cannot store", async () => {
      const { store, clock } = await make();
      const key = unique("lock");
      await store.begin(key, "fp", "t1", 10_000);
      clock.advance(9_999);
      expect((await store.begin(key, "fp", "t2", 10_000)).state).toBe("in_flight");
      clock.advance(2);
      expect((await store.begin(key, "fp", "t3", 10_000)).state).toBe("acquired");
      expect(await store.complete(key, "t1", RESPONSE, 60_000)).toBe(false);
      expect(await store.complete(key, "t3", RESPONSE, 60_000)).toBe(true);
    });

    it("forgets a completed response after its ttl", async () => {
      const { store, clock } = await make();
      const key = unique("ttl");
      await store.begin(key, "fp", "t1", 10_000);
      await store.complete(key, "t1", RESPONSE, 60_000);
      clock.advance(59_999);
      expect((await store.begin(key, "fp", "t2", 10_000)).state).toBe("completed");
      clock.advance(2);
      expect((await store.begin(key, "fp", "t3", 10_000)).state).toBe("acquired");
    });
  });
}
