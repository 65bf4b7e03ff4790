import { describe, expect, it } from "vitest";
import { manualClock } from "../../core/clock.js";
import { isBulwarkError } from "../../core/errors.js";
import { replayStoreContract } from "../../webhooks/replay-store.contract.js";
import { memoryReplayStore } from "./webhooks.js";

replayStoreContract("memory", async () => {
  const clock = manualClock();
  return { store: memoryReplayStore({ clock }), clock };
});

describe("memoryReplayStore", () => {
  it("drops the oldest id past maxEntries and sweeps expired ids as it goes", async () => {
    const clock = manualClock();
    const store = memoryReplayStore({ clock, maxEntries: 3 });
    for (const k of ["a", "b", "c", "d"]) await store.remember(k, 1_000);
    expect(store.size()).toBe(3);
    expect(await store.remember("a", 1_000)).toBe(true);
    clock.advance(1_001);
    await store.remember("e", 1_000);
    expect(store.size()).toBe(1);
  });

  it("refuses unknown options and a non-integer maxEntries", () => {
    const thrown = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
    };
    const e1 = thrown(() => memoryReplayStore({ maxEntrys: 3 } as never));
    expect(isBulwarkError(e1, "ERR_CONFIG_INVALID")).toBe(true);
    expect((e1 as Error).message).toContain('did you mean "maxEntries"');
    expect(
      isBulwarkError(
        thrown(() => memoryReplayStore({ maxEntries: 0 })),
        "ERR_CONFIG_INVALID",
      ),
    ).toBe(true);
  });
});
