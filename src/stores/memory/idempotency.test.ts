import { describe, expect, it } from "vitest";
import { manualClock } from "../../core/clock.js";
import { isBulwarkError } from "../../core/errors.js";
import { idempotencyStoreContract, ledgerContract } from "../../idempotency/ledger.contract.js";
import { memoryIdempotencyStore, memoryLedger } from "./idempotency.js";

ledgerContract("memory", async () => {
  const clock = manualClock();
  return { ledger: memoryLedger({ clock }), clock };
});

idempotencyStoreContract("memory", async () => {
  const clock = manualClock();
  return { store: memoryIdempotencyStore({ clock }), clock };
});

describe("memory ledger and idempotency store", () => {
  it("forget settled events after retentionMs but never one being processed", async () => {
    const clock = manualClock();
    const ledger = memoryLedger({ clock, retentionMs: 1_000 });
    await ledger.claim("busy", "a", 60_000);
    await ledger.claim("done", "a", 60_000);
    await ledger.complete("done", "a", "1");
    clock.advance(1_001);
    await ledger.receive("trigger-sweep");
    expect(await ledger.get("done")).toBeUndefined();
    expect(await ledger.get("busy")).toMatchObject({ state: "processing" });
  });

  it("keeps at most maxEntries keys", async () => {
    const clock = manualClock();
    const store = memoryIdempotencyStore({ clock, maxEntries: 2 });
    for (const k of ["a", "b", "c"]) await store.begin(k, "fp", "t", 60_000);
    expect((await store.begin("a", "fp", "t2", 60_000)).state).toBe("acquired");
  });

  it("refuse unknown options", () => {
    for (const make of [
      () => memoryLedger({ retention: 1 } as never),
      () => memoryIdempotencyStore({ max: 1 } as never),
    ]) {
      try {
        make();
        expect.unreachable();
      } catch (e) {
        expect(isBulwarkError(e, "ERR_CONFIG_INVALID")).toBe(true);
      }
    }
  });
});
