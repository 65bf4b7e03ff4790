import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { isBulwarkError } from "../core/errors.js";
import { memoryAuthStore } from "./memory.js";
import { ONE_TIME_TOKEN_TTL_MS, oneTimeTokens } from "./onetime.js";
import { credentialEpoch } from "./secrets.js";

const epoch = async () => "epoch-1";

function configCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return isBulwarkError(error) ? error.code : "other";
  }
  return undefined;
}

describe("oneTimeTokens service", () => {
  it("defaults to 24 h for email verification, 30 min for reset, 15 min for magic links", () => {
    expect(ONE_TIME_TOKEN_TTL_MS).toEqual({
      "verify-email": 86_400_000,
      "reset-password": 1_800_000,
      "magic-link": 900_000,
    });
  });

  it("supports custom purposes and lifetimes", async () => {
    const clock = manualClock();
    const t = oneTimeTokens({
      store: memoryAuthStore(),
      clock,
      currentEpoch: epoch,
      ttlMs: { "change-email": 3_600_000 },
    });
    const { token, expiresAtMs } = await t.issue({
      accountId: "a",
      purpose: "change-email",
      data: "new@x.test",
    });
    expect(expiresAtMs).toBe(clock.now() + 3_600_000);
    expect(await t.consume(token, "change-email")).toEqual({
      ok: true,
      accountId: "a",
      epoch: "epoch-1",
      data: "new@x.test",
    });
  });

  it("refuses unknown purposes at issue and at consume", async () => {
    const t = oneTimeTokens({ store: memoryAuthStore(), currentEpoch: epoch });
    await expect(t.issue({ accountId: "a", purpose: "delete-account" })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
    await expect(t.consume("x", "nope")).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
  });

  it("fails as stale when the account is gone by the time the token is used", async () => {
    let exists = true;
    const t = oneTimeTokens({
      store: memoryAuthStore(),
      currentEpoch: async () => (exists ? "e" : undefined),
    });
    const { token } = await t.issue({ accountId: "a", purpose: "magic-link" });
    exists = false;
    expect(await t.consume(token, "magic-link")).toEqual({
      ok: false,
      code: "ERR_ONE_TIME_TOKEN_INVALID",
      reason: "stale",
    });
  });

  it("binds to the password through credentialEpoch: a new hash of the same password is a new epoch", () => {
    expect(credentialEpoch("$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB")).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(credentialEpoch("$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB")).toBe(
      credentialEpoch("$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB"),
    );
    expect(credentialEpoch("$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB")).not.toBe(
      credentialEpoch("$argon2id$v=19$m=19456,t=2,p=1$AAAB$BBBB"),
    );
  });

  it("refuses bad options and bad issue requests", async () => {
    const store = memoryAuthStore();
    expect(configCode(() => oneTimeTokens({ store } as never))).toBe("ERR_CONFIG_INVALID");
    expect(configCode(() => oneTimeTokens({ currentEpoch: epoch } as never))).toBe("ERR_CONFIG_INVALID");
    expect(
      configCode(() => oneTimeTokens({ store, currentEpoch: epoch, ttlMs: { "reset-password": 1000 } })),
    ).toBe("ERR_CONFIG_INVALID");
    expect(
      configCode(() => oneTimeTokens({ store, currentEpoch: epoch, ttlMs: { "Bad Name": 60_000 } })),
    ).toBe("ERR_CONFIG_INVALID");
    expect(configCode(() => oneTimeTokens({ store, currentEpoch: epoch, ttl: {} } as never))).toBe(
      "ERR_CONFIG_INVALID",
    );
    const t = oneTimeTokens({ store, currentEpoch: async () => undefined });
    await expect(t.issue({ accountId: "ghost", purpose: "magic-link" })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
    const u = oneTimeTokens({ store, currentEpoch: epoch });
    await expect(u.issue({ accountId: "", purpose: "magic-link" })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
    await expect(
      u.issue({ accountId: "a", purpose: "magic-link", data: "x".repeat(1025) }),
    ).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
  });

  it("answers malformed tokens as unknown without a store lookup", async () => {
    const store = memoryAuthStore();
    let takes = 0;
    const t = oneTimeTokens({
      store: {
        ...store,
        take: async (h, p) => {
          takes++;
          return store.take(h, p);
        },
      },
      currentEpoch: epoch,
    });
    expect(await t.consume("../../etc/passwd", "magic-link")).toMatchObject({ ok: false, reason: "unknown" });
    expect(takes).toBe(0);
  });
});
