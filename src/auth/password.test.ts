import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import {
  hashPassword,
  MAX_PASSWORD_BYTES,
  parseArgon2Hash,
  passwordHasher,
  verifyPassword,
  verifyUnknownAccount,
} from "./password.js";

/** A hasher at the lowest argon2 cost, for tests that exercise the gate rather than the hash. */
const cheap = (extra: Parameters<typeof passwordHasher>[0] = {}) =>
  passwordHasher({
    memoryCostKiB: 64,
    timeCost: 1,
    dangerouslyAllowWeakParameters: true,
    logger: memoryLogger(),
    ...extra,
  });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

// Reference vectors from phc-winner-argon2 (src/test.c), password "password", salt "somesalt".
const ARGON2_VECTORS = [
  ["password", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"],
  ["password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"],
  ["password", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"],
  [
    "differentpassword",
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94",
  ],
  ["password", "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8"],
  ["password", "$argon2i$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY"],
] as const;

// bcrypt vectors: jBCrypt's test suite ($2a$), pyca/passlib-style ($2b$), `htpasswd -B` and PHP ($2y$).
const BCRYPT_VECTORS = [
  ["", "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."],
  ["a", "$2a$06$m0CrhHm10qJ3lXRY.5zDGO3rS2KdeeWLuGmsfGlMfOxih58VYVfxe"],
  ["abc", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"],
  ["foobar", "$2b$04$5LiM0CX3wUoO55cGCwrkDeZIU5zyBqPDZfV9zU4Q2WH/Lkkn2lypa"],
  ["correctbatteryhorsestapler", "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie"],
  ["foobar", "$2y$04$gJMIcys.lfgVjCJHje1nkOs4e7klgmoxWWEbaJK6p.jtww7BxDX1K"],
  ["password", "$2y$04$usesomesillystringfore7hnbRJHxXVLeakoG8K30oukPsA.ztMG"],
] as const;

describe("hashPassword / verifyPassword (OWASP defaults)", () => {
  it("hashes with argon2id m=19456 t=2 p=1, a 16-byte salt and a 32-byte output, and verifies without rehash", async () => {
    const hash = await hashPassword("correct horse battery staple");
    expect(hash.startsWith("$argon2id$v=19$m=19456,t=2,p=1$")).toBe(true);
    expect(parseArgon2Hash(hash)).toMatchObject({ saltBytes: 16, outputBytes: 32 });
    expect(await verifyPassword(hash, "correct horse battery staple")).toEqual({
      ok: true,
      needsRehash: false,
    });
    expect(await verifyPassword(hash, "correct horse battery stapler")).toEqual({
      ok: false,
      needsRehash: false,
    });
  });

  it("salts every hash, so the same password never hashes the same twice", async () => {
    const [a, b] = await Promise.all([hashPassword("same"), hashPassword("same")]);
    expect(a).not.toBe(b);
  });

  it("answers { ok: false } for an unknown account after a real argon2 verification", async () => {
    expect(await verifyPassword(undefined, "whatever")).toEqual({ ok: false, needsRehash: false });
    expect(await verifyPassword(null, "whatever")).toEqual({ ok: false, needsRehash: false });
    expect(await verifyPassword("", "whatever")).toEqual({ ok: false, needsRehash: false });
    expect(await verifyUnknownAccount("whatever")).toEqual({ ok: false, needsRehash: false });
    expect(await verifyUnknownAccount()).toEqual({ ok: false, needsRehash: false });
  });
});

describe("verify against published vectors", () => {
  const hasher = passwordHasher();

  it.each(ARGON2_VECTORS)(
    "verifies reference argon2 vector for %j and asks for a rehash",
    async (pw, hash) => {
      expect(await hasher.verify(hash, pw)).toEqual({ ok: true, needsRehash: true });
      expect(await hasher.verify(hash, `${pw}x`)).toEqual({ ok: false, needsRehash: false });
    },
  );

  it.each(BCRYPT_VECTORS)("verifies bcrypt vector for %j and always asks for a rehash", async (pw, hash) => {
    expect(await hasher.verify(hash, pw)).toEqual({ ok: true, needsRehash: true });
    expect(await hasher.verify(hash, `${pw}x`)).toEqual({ ok: false, needsRehash: false });
  });

  it("refuses hashes it cannot verify with ERR_PASSWORD_HASH_UNSUPPORTED (status 500)", async () => {
    for (const bad of [
      "plaintext",
      "$argon2id$v=19$m=256",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$", // no output
      "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", // crypt_blowfish's buggy variant
      "$1$saltsalt$hash",
    ]) {
      const error = await rejection(hasher.verify(bad, "password"));
      expect(isBulwarkError(error, "ERR_PASSWORD_HASH_UNSUPPORTED")).toBe(true);
      expect((error as { status: number }).status).toBe(500);
    }
  });
});

describe("needsRehash", () => {
  const hasher = passwordHasher();

  it("is false only for argon2id v=19 with exactly the configured costs", async () => {
    expect(
      hasher.needsRehash(`$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$${"A".repeat(43)}`),
    ).toBe(false);
    for (const other of [
      "$argon2id$v=19$m=12288,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$", // less memory
      "$argon2id$v=19$m=19456,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$", // fewer passes
      "$argon2id$v=19$m=19456,t=2,p=2$c29tZXNhbHRzb21lc2FsdA$", // other lanes
      "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$", // another configuration
      "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$", // argon2i
      "$argon2id$v=16$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$", // old version
      "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$", // 8-byte salt
    ]) {
      expect(hasher.needsRehash(other + "A".repeat(43)), other).toBe(true);
    }
    expect(
      hasher.needsRehash(`$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$${"A".repeat(22)}`),
    ).toBe(true);
    expect(hasher.needsRehash(BCRYPT_VECTORS[3][1])).toBe(true);
  });

  it("follows the configuration: a hash made under other costs verifies and asks for a rehash", async () => {
    const stronger = passwordHasher({ memoryCostKiB: 47104, timeCost: 1 });
    const hash = await hasher.hash("pw");
    expect(await stronger.verify(hash, "pw")).toEqual({ ok: true, needsRehash: true });
    expect(await hasher.verify(hash, "pw")).toEqual({ ok: true, needsRehash: false });
  });
});

describe("length cap", () => {
  const hasher = cheap();

  it(`accepts exactly ${MAX_PASSWORD_BYTES} bytes and refuses one more with ERR_PASSWORD_TOO_LONG (400)`, async () => {
    const max = "a".repeat(MAX_PASSWORD_BYTES);
    const hash = await hasher.hash(max);
    expect((await hasher.verify(hash, max)).ok).toBe(true);
    for (const call of [
      () => hasher.hash(`${max}a`),
      () => hasher.verify(hash, `${max}a`),
      () => hasher.verify(undefined, `${max}a`),
      () => hasher.verifyUnknownAccount(`${max}a`),
    ]) {
      const error = await rejection(call());
      expect(isBulwarkError(error, "ERR_PASSWORD_TOO_LONG")).toBe(true);
      expect((error as { status: number }).status).toBe(400);
    }
  });

  it("counts UTF-8 bytes, not characters", async () => {
    // "€" is 3 bytes: 341 of them are 1023 bytes, 342 are 1026.
    await expect(hasher.hash("€".repeat(341))).resolves.toMatch(/^\$argon2id\$/);
    expect(isBulwarkError(await rejection(hasher.hash("€".repeat(342))), "ERR_PASSWORD_TOO_LONG")).toBe(true);
    // 4-byte code points (two UTF-16 units each): 256 are 1024 bytes, 257 are 1028.
    await expect(hasher.hash("😀".repeat(256))).resolves.toMatch(/^\$argon2id\$/);
    expect(isBulwarkError(await rejection(hasher.hash("😀".repeat(257))), "ERR_PASSWORD_TOO_LONG")).toBe(
      true,
    );
  });

  it("refuses before taking a hashing slot (a full hasher still answers TOO_LONG, not BUSY)", async () => {
    const full = cheap({ concurrency: 1, maxQueue: 0 });
    const running = full.hash("occupies the only slot");
    const error = await rejection(full.hash("x".repeat(5000)));
    expect(isBulwarkError(error, "ERR_PASSWORD_TOO_LONG")).toBe(true);
    await running;
  });

  it("refuses a non-string password with ERR_PASSWORD_INVALID (400)", async () => {
    const error = await rejection(hasher.hash(42 as unknown as string));
    expect(isBulwarkError(error, "ERR_PASSWORD_INVALID")).toBe(true);
    expect((error as { status: number }).status).toBe(400);
  });
});

describe("concurrency bound", () => {
  it("fails fast with ERR_PASSWORD_HASHER_BUSY (503) once every slot and queue place is taken", async () => {
    const hasher = cheap({ concurrency: 1, maxQueue: 1 });
    const first = hasher.hash("one");
    const second = hasher.hash("two");
    expect(hasher.stats()).toMatchObject({ active: 1, queued: 1, rejected: 0 });
    const error = await rejection(hasher.hash("three"));
    expect(isBulwarkError(error, "ERR_PASSWORD_HASHER_BUSY")).toBe(true);
    expect((error as { status: number }).status).toBe(503);
    await Promise.all([first, second]);
    expect(hasher.stats()).toMatchObject({ active: 0, queued: 0, rejected: 1 });
    await expect(hasher.hash("four")).resolves.toMatch(/^\$argon2id\$/);
  });

  it("never runs more than `concurrency` at once and refuses exactly the overflow of a burst", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 16 }),
        async (concurrency, maxQueue, burst) => {
          const hasher = cheap({ concurrency, maxQueue });
          let peak = 0;
          const calls = Array.from({ length: burst }, (_, i) =>
            hasher.hash(`p${i}`).then(
              () => {
                peak = Math.max(peak, hasher.stats().active);
                return "ok";
              },
              (e: unknown) => (isBulwarkError(e, "ERR_PASSWORD_HASHER_BUSY") ? "busy" : "other"),
            ),
          );
          peak = Math.max(peak, hasher.stats().active);
          const results = await Promise.all(calls);
          expect(peak).toBeLessThanOrEqual(concurrency);
          expect(results.filter((r) => r === "busy")).toHaveLength(
            Math.max(0, burst - concurrency - maxQueue),
          );
          expect(results.filter((r) => r === "other")).toHaveLength(0);
          expect(hasher.stats()).toMatchObject({ active: 0, queued: 0 });
        },
      ),
      { numRuns: 40 },
    );
  });

  it("puts the dummy verification of unknown accounts under the same bound", async () => {
    const hasher = cheap({ concurrency: 1, maxQueue: 0 });
    await hasher.verifyUnknownAccount("warm"); // the dummy hash exists now
    const running = hasher.hash("occupies the only slot");
    const error = await rejection(hasher.verify(undefined, "pw"));
    expect(isBulwarkError(error, "ERR_PASSWORD_HASHER_BUSY")).toBe(true);
    await running;
  });
});

describe("fair queueing by client key", () => {
  it("serves waiting keys round-robin, so a flood queued first does not delay another client behind it", async () => {
    const hasher = cheap({ concurrency: 1, maxQueue: 16, maxQueuedPerKey: 8 });
    const order: string[] = [];
    const track = (label: string, p: Promise<unknown>) => p.then(() => order.push(label));
    const running = track("first", hasher.hash("slot", { key: "flood" }));
    const calls = [1, 2, 3, 4, 5].map((i) => track(`flood-${i}`, hasher.hash("x", { key: "flood" })));
    calls.push(track("legit", hasher.verify(undefined, "pw", { key: "legit" })));
    await Promise.all([running, ...calls]);
    expect(order).toEqual(["first", "flood-1", "legit", "flood-2", "flood-3", "flood-4", "flood-5"]);
  });

  it("when full, lets a newcomer from a quieter key push out the newest waiter of the busiest key", async () => {
    const hasher = cheap({ concurrency: 1, maxQueue: 4, maxQueuedPerKey: 4 });
    const order: string[] = [];
    const track = (label: string, p: Promise<unknown>) =>
      p.then(
        () => order.push(label),
        (e: unknown) => order.push(`${label}:${isBulwarkError(e) ? e.code : "?"}`),
      );
    const calls = [track("first", hasher.hash("slot", { key: "flood" }))];
    for (const i of [1, 2, 3, 4]) calls.push(track(`flood-${i}`, hasher.hash("x", { key: "flood" })));
    calls.push(track("flood-5", hasher.hash("x", { key: "flood" }))); // full, and flood already holds the most
    calls.push(track("legit", hasher.hash("x", { key: "legit" })));
    calls.push(track("other", hasher.hash("x", { key: "other" })));
    await Promise.all(calls);
    expect(order).toEqual([
      "flood-5:ERR_PASSWORD_HASHER_BUSY",
      "flood-4:ERR_PASSWORD_HASHER_BUSY",
      "flood-3:ERR_PASSWORD_HASHER_BUSY",
      "first",
      "flood-1",
      "legit",
      "other",
      "flood-2",
    ]);
    expect(hasher.stats()).toMatchObject({ active: 0, queued: 0, rejected: 3 });
  });

  it("caps the queue places of one key, leaving room for others", async () => {
    const hasher = cheap({ concurrency: 1, maxQueue: 8, maxQueuedPerKey: 2 });
    const running = hasher.hash("slot");
    const a1 = hasher.hash("x", { key: "a" });
    const a2 = hasher.hash("x", { key: "a" });
    const a3 = rejection(hasher.hash("x", { key: "a" }));
    const b1 = hasher.hash("x", { key: "b" });
    expect(isBulwarkError(await a3, "ERR_PASSWORD_HASHER_BUSY")).toBe(true);
    expect(hasher.stats()).toMatchObject({ queued: 3, rejected: 1, maxQueuedPerKey: 2 });
    await Promise.all([running, a1, a2, b1]);
  });

  it("limits calls without a key only by maxQueue, and defaults the per-key cap to maxQueue / 4", async () => {
    const hasher = cheap({ concurrency: 1, maxQueue: 8 });
    expect(hasher.stats().maxQueuedPerKey).toBe(2);
    const calls = Array.from({ length: 9 }, () =>
      hasher.hash("x").then(
        () => "ok",
        () => "busy",
      ),
    );
    expect(await Promise.all(calls)).toEqual(["ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"]);
  });

  it("never holds more than maxQueue waiting calls nor more than maxQueuedPerKey for one key", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.constantFrom("a", "b", "c", undefined), { minLength: 1, maxLength: 30 }),
        async (maxQueue, perKey, keys) => {
          const hasher = cheap({ concurrency: 1, maxQueue, maxQueuedPerKey: Math.min(perKey, maxQueue) });
          const counts = new Map<string, number>();
          const calls = keys.map((key) => {
            const p = hasher.hash("x", key === undefined ? {} : { key });
            return p.then(
              () => "ok",
              () => "busy",
            );
          });
          expect(hasher.stats().queued).toBeLessThanOrEqual(maxQueue);
          const results = await Promise.all(calls);
          // Admitted = 1 running + the queued; per key, at most the cap waited at once.
          keys.forEach((key, i) => {
            if (results[i] === "ok" && key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
          });
          for (const [, n] of counts) expect(n).toBeLessThanOrEqual(Math.min(perKey, maxQueue) + 1);
          expect(results.filter((r) => r === "ok").length).toBeLessThanOrEqual(maxQueue + 1);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("passwordHasher options", () => {
  it("rejects unknown options with a did-you-mean hint", () => {
    expect(() => passwordHasher({ memoryCost: 19456 } as never)).toThrow(/did you mean "memoryCostKiB"/);
  });

  it("refuses argon2 costs below OWASP's table unless dangerouslyAllowWeakParameters, which warns", () => {
    for (const weak of [
      { memoryCostKiB: 4096, timeCost: 10 },
      { memoryCostKiB: 19456, timeCost: 1 },
      { memoryCostKiB: 12288, timeCost: 2 },
    ]) {
      try {
        passwordHasher(weak);
        throw new Error("accepted");
      } catch (error) {
        expect(isBulwarkError(error, "ERR_CONFIG_INVALID")).toBe(true);
      }
    }
    const logger = memoryLogger();
    passwordHasher({ memoryCostKiB: 64, timeCost: 1, dangerouslyAllowWeakParameters: true, logger });
    expect(logger.entries.filter((e) => e.level === "warn")).toHaveLength(1);
  });

  it("accepts OWASP's equivalent configurations without a warning", () => {
    const logger = memoryLogger();
    for (const [m, t] of [
      [47104, 1],
      [19456, 2],
      [12288, 3],
      [9216, 4],
      [7168, 5],
    ] as const) {
      passwordHasher({ memoryCostKiB: m, timeCost: t, logger });
    }
    expect(logger.entries).toHaveLength(0);
  });

  it("rejects a zero or fractional concurrency and a negative queue", () => {
    expect(() => passwordHasher({ concurrency: 0 })).toThrow(/concurrency/);
    expect(() => passwordHasher({ concurrency: 1.5 })).toThrow(/concurrency/);
    expect(() => passwordHasher({ maxQueue: -1 })).toThrow(/maxQueue/);
  });

  it("defaults maxQueue to 16 × concurrency and maxQueuedPerKey to a quarter of it", () => {
    expect(passwordHasher({ concurrency: 3 }).stats()).toMatchObject({
      concurrency: 3,
      maxQueue: 48,
      maxQueuedPerKey: 12,
    });
  });

  it("rejects a per-key cap above maxQueue", () => {
    expect(() => passwordHasher({ maxQueue: 4, maxQueuedPerKey: 5 })).toThrow(/maxQueuedPerKey/);
  });
});
