import { describe, expect, it } from "vitest";
import { memoryLogger, silentLogger } from "../core/logger.js";
import { loginGuard } from "../ratelimit/login.js";
import { type LoginAccount, type LoginThrottle, loginProblem, passwordLogin } from "./login.js";
import { passwordHasher } from "./password.js";
import { compareTimings } from "./timing.js";

const hasher = passwordHasher({
  memoryCostKiB: 1024,
  timeCost: 1,
  dangerouslyAllowWeakParameters: true,
  logger: memoryLogger(),
});

async function accounts(entries: Record<string, string | null>): Promise<Map<string, LoginAccount>> {
  const map = new Map<string, LoginAccount>();
  for (const [name, password] of Object.entries(entries)) {
    map.set(name, { id: `id-${name}`, passwordHash: password === null ? null : await hasher.hash(password) });
  }
  return map;
}

/** A throttle double recording calls; `locked` makes check refuse. */
function recordingThrottle(locked = false): LoginThrottle & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async check(account, ip) {
      calls.push(`check ${account} ${ip}`);
      return locked
        ? { allowed: false, retryAfterMs: 90_500, code: "ERR_LOGIN_LOCKED" }
        : { allowed: true, retryAfterMs: 0, code: undefined };
    },
    async recordFailure(account, ip) {
      calls.push(`failure ${account} ${ip}`);
    },
    async recordSuccess(account, ip) {
      calls.push(`success ${account} ${ip}`);
    },
  };
}

/** A hasher that runs one hash at a time and queues none: a second caller is refused as busy. */
const singleSlotHasher = () =>
  passwordHasher({
    memoryCostKiB: 64,
    timeCost: 1,
    concurrency: 1,
    maxQueue: 0,
    dangerouslyAllowWeakParameters: true,
    logger: memoryLogger(),
  });

const bodyOf = (r: { body?: string | Uint8Array }) => String(r.body);

describe("passwordLogin", () => {
  it("logs in with the right password and records the success with the throttle", async () => {
    const db = await accounts({ alice: "right" });
    const throttle = recordingThrottle();
    const login = passwordLogin({ findAccount: async (id) => db.get(id), hasher, throttle });
    const r = await login({ identifier: "alice", password: "right", ip: "192.0.2.1" });
    expect(r).toEqual({ ok: true, account: db.get("alice"), rehashed: false });
    expect(throttle.calls).toEqual(["check alice 192.0.2.1", "success alice 192.0.2.1"]);
  });

  it("answers an unknown account exactly like a wrong password: 401, same code, same problem body", async () => {
    const db = await accounts({ alice: "right" });
    const throttle = recordingThrottle();
    const login = passwordLogin({ findAccount: async (id) => db.get(id), hasher, throttle });
    const wrong = await login({ identifier: "alice", password: "wrong", ip: "192.0.2.1" });
    const unknown = await login({ identifier: "mallory", password: "wrong", ip: "192.0.2.1" });
    expect(wrong).toEqual({ ok: false, status: 401, code: "ERR_LOGIN_FAILED", retryAfterMs: 0 });
    expect(unknown).toEqual(wrong);
    if (wrong.ok || unknown.ok) throw new Error("unreachable");
    const a = loginProblem(wrong);
    const b = loginProblem(unknown);
    expect(a).toEqual(b);
    expect(a.status).toBe(401);
    expect(a.headers).toEqual([
      ["content-type", "application/problem+json"],
      ["cache-control", "no-store"],
    ]);
    expect(JSON.parse(bodyOf(a))).toEqual({
      type: "https://bulwark.dev/errors/ERR_LOGIN_FAILED",
      title: "Invalid account name or password",
      status: 401,
      code: "ERR_LOGIN_FAILED",
    });
    // Failures are recorded for unknown accounts too, with the name as typed.
    expect(throttle.calls).toEqual([
      "check alice 192.0.2.1",
      "failure alice 192.0.2.1",
      "check mallory 192.0.2.1",
      "failure mallory 192.0.2.1",
    ]);
  });

  it("treats an account without a password like an unknown one", async () => {
    const db = await accounts({ sso: null });
    const login = passwordLogin({ findAccount: async (id) => db.get(id), hasher });
    expect(await login({ identifier: "sso", password: "", ip: "192.0.2.1" })).toMatchObject({
      ok: false,
      status: 401,
      code: "ERR_LOGIN_FAILED",
    });
  });

  it("answers 429 ERR_LOGIN_LOCKED with Retry-After in whole seconds while locked, without hashing or lookup", async () => {
    let lookups = 0;
    const login = passwordLogin({
      findAccount: async () => {
        lookups++;
        return undefined;
      },
      hasher,
      throttle: recordingThrottle(true),
    });
    const r = await login({ identifier: "alice", password: "x", ip: "192.0.2.1" });
    expect(r).toEqual({ ok: false, status: 429, code: "ERR_LOGIN_LOCKED", retryAfterMs: 90_500 });
    expect(lookups).toBe(0);
    if (r.ok) throw new Error("unreachable");
    const answer = loginProblem(r);
    expect(answer.status).toBe(429);
    expect(answer.headers).toContainEqual(["retry-after", "91"]);
  });

  it("answers 503 when the throttle's store is down (fail closed) and passes its code on", async () => {
    const login = passwordLogin({
      findAccount: async () => undefined,
      hasher,
      throttle: {
        check: async () => ({ allowed: false, retryAfterMs: 0, code: "ERR_RATELIMIT_STORE_UNAVAILABLE" }),
        recordFailure: async () => {},
        recordSuccess: async () => {},
      },
    });
    const r = await login({ identifier: "a", password: "b", ip: "192.0.2.1" });
    expect(r).toEqual({
      ok: false,
      status: 503,
      code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
      retryAfterMs: 1000,
    });
  });

  it("answers 503 ERR_PASSWORD_HASHER_BUSY with Retry-After: 1 when the hasher is saturated", async () => {
    const tiny = singleSlotHasher();
    const login = passwordLogin({ findAccount: async () => undefined, hasher: tiny });
    const occupying = tiny.hash("slot");
    const r = await login({ identifier: "a", password: "b", ip: "192.0.2.1" });
    await occupying;
    expect(r).toEqual({ ok: false, status: 503, code: "ERR_PASSWORD_HASHER_BUSY", retryAfterMs: 1000 });
    if (r.ok) throw new Error("unreachable");
    expect(loginProblem(r).headers).toContainEqual(["retry-after", "1"]);
  });

  it("queues by client IP: a flood from one address cannot take the places of another", async () => {
    const fair = passwordHasher({
      memoryCostKiB: 64,
      timeCost: 1,
      concurrency: 1,
      maxQueue: 8,
      maxQueuedPerKey: 2,
      dangerouslyAllowWeakParameters: true,
      logger: memoryLogger(),
    });
    const login = passwordLogin({ findAccount: async () => undefined, hasher: fair });
    const occupying = fair.hash("slot");
    const flood = [1, 2, 3].map(() => login({ identifier: "x", password: "y", ip: "203.0.113.9" }));
    const legit = login({ identifier: "x", password: "y", ip: "198.51.100.1" });
    const results = await Promise.all([...flood, legit]);
    await occupying;
    expect(results.map((r) => (r.ok ? 200 : r.status))).toEqual([401, 401, 503, 401]);
  });

  it("with loginGuard, a burst of 20 concurrent wrong passwords checks at most maxFailures of them", async () => {
    const db = await accounts({ alice: "right" });
    let verified = 0;
    const counting = {
      ...hasher,
      verify: (...args: Parameters<typeof hasher.verify>) => {
        verified++;
        return hasher.verify(...args);
      },
    };
    const login = passwordLogin({
      findAccount: async (id) => db.get(id),
      hasher: counting,
      throttle: loginGuard({ maxFailures: 5, logger: silentLogger }),
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        login({ identifier: "alice", password: `guess-${i}`, ip: "192.0.2.1" }),
      ),
    );
    expect(verified).toBe(5);
    expect(results.filter((r) => !r.ok && r.status === 401)).toHaveLength(5);
    expect(results.filter((r) => !r.ok && r.code === "ERR_LOGIN_LOCKED")).toHaveLength(15);
    // The pair is locked now, even for the right password.
    expect(await login({ identifier: "alice", password: "right", ip: "192.0.2.1" })).toMatchObject({
      ok: false,
      status: 429,
    });
  });

  it("gives the throttle its hold back when no password was checked (hasher busy)", async () => {
    const tiny = singleSlotHasher();
    const guard = loginGuard({ maxFailures: 1, logger: silentLogger });
    const login = passwordLogin({ findAccount: async () => undefined, hasher: tiny, throttle: guard });
    const occupying = tiny.hash("slot");
    const busy = await login({ identifier: "a", password: "b", ip: "192.0.2.1" });
    await occupying;
    expect(busy).toMatchObject({ ok: false, status: 503, code: "ERR_PASSWORD_HASHER_BUSY" });
    // With maxFailures 1, a hold kept by the busy attempt would refuse this one as locked.
    expect(await login({ identifier: "a", password: "b", ip: "192.0.2.1" })).toMatchObject({
      ok: false,
      status: 401,
    });
  });

  it("answers an over-long password like a wrong one (401) and records the failure", async () => {
    const db = await accounts({ alice: "right" });
    const throttle = recordingThrottle();
    const login = passwordLogin({ findAccount: async (id) => db.get(id), hasher, throttle });
    const r = await login({ identifier: "alice", password: "x".repeat(2000), ip: "192.0.2.1" });
    expect(r).toMatchObject({ ok: false, status: 401, code: "ERR_LOGIN_FAILED" });
    expect(throttle.calls).toContain("failure alice 192.0.2.1");
  });

  it("rehashes a bcrypt hash to argon2id on the next successful login", async () => {
    // jBCrypt test vector: "abc".
    const account = {
      id: "legacy",
      passwordHash: "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i",
    };
    const stored: string[] = [];
    const login = passwordLogin({
      findAccount: async () => account,
      hasher,
      onRehash: async (_account, hash) => {
        stored.push(hash);
      },
    });
    const r = await login({ identifier: "legacy", password: "abc", ip: "192.0.2.1" });
    expect(r).toMatchObject({ ok: true, rehashed: true });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(await hasher.verify(stored[0], "abc")).toEqual({ ok: true, needsRehash: false });
  });

  it("keeps the login successful when storing the new hash fails, and logs without secrets", async () => {
    const logger = memoryLogger();
    const account = {
      id: "legacy",
      passwordHash: "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i",
    };
    const login = passwordLogin({
      findAccount: async () => account,
      hasher,
      logger,
      onRehash: async () => {
        throw new Error("db down");
      },
    });
    expect(await login({ identifier: "legacy", password: "abc", ip: "192.0.2.1" })).toMatchObject({
      ok: true,
      rehashed: false,
    });
    expect(logger.entries).toHaveLength(1);
    expect(JSON.stringify(logger.entries)).not.toContain("abc");
    expect(JSON.stringify(logger.entries)).not.toContain("$2a$");
  });

  it("rejects missing findAccount, unknown options and a throttle of the wrong shape", () => {
    expect(() => passwordLogin({} as never)).toThrow(/findAccount/);
    expect(() => passwordLogin({ findAccount: async () => undefined, hashr: hasher } as never)).toThrow(
      /did you mean "hasher"/,
    );
    expect(() =>
      passwordLogin({ findAccount: async () => undefined, throttle: { check() {} } as never }),
    ).toThrow(/throttle/);
  });
});

describe("account enumeration through login timing", () => {
  /** Interleaves `n` timed calls of each function in a random order per pair; returns the samples. */
  async function sample(
    n: number,
    a: () => Promise<unknown>,
    b: () => Promise<unknown>,
  ): Promise<{ a: number[]; b: number[] }> {
    const out = { a: [] as number[], b: [] as number[] };
    const time = async (f: () => Promise<unknown>) => {
      const start = performance.now();
      await f();
      return performance.now() - start;
    };
    for (let i = 0; i < 20; i++) await Promise.all([a(), b()].map((p) => p.catch(() => {}))); // warm-up
    for (let i = 0; i < n; i++) {
      if (Math.random() < 0.5) {
        out.a.push(await time(a));
        out.b.push(await time(b));
      } else {
        out.b.push(await time(b));
        out.a.push(await time(a));
      }
    }
    return out;
  }

  // The real code path (argon2id through the bounded hasher) at a reduced memory cost for speed.
  const timed = passwordHasher({
    memoryCostKiB: 4096,
    timeCost: 1,
    concurrency: 1,
    dangerouslyAllowWeakParameters: true,
    logger: memoryLogger(),
  });

  it("gives existing and unknown accounts the same timing distribution (Mann–Whitney, 200 tries each)", async () => {
    const db = new Map<string, LoginAccount>([
      ["alice", { id: "1", passwordHash: await timed.hash("right") }],
    ]);
    const login = passwordLogin({ findAccount: async (id) => db.get(id), hasher: timed });
    const bodies = new Set<string>();
    const s = await sample(
      200,
      async () => {
        const r = await login({ identifier: "alice", password: "wrong", ip: "192.0.2.1" });
        if (!r.ok) bodies.add(`${r.status} ${bodyOf(loginProblem(r))}`);
      },
      async () => {
        const r = await login({ identifier: "nobody@example.com", password: "wrong", ip: "192.0.2.1" });
        if (!r.ok) bodies.add(`${r.status} ${bodyOf(loginProblem(r))}`);
      },
    );
    expect(bodies.size).toBe(1);
    const c = compareTimings(s.a, s.b);
    // Neither group is slower in much more than half of the pairs, and medians agree within 20 %.
    expect(c.superiority, JSON.stringify(c)).toBeGreaterThan(0.35);
    expect(c.superiority, JSON.stringify(c)).toBeLessThan(0.65);
    expect(Math.abs(c.medianA - c.medianB) / Math.max(c.medianA, c.medianB), JSON.stringify(c)).toBeLessThan(
      0.2,
    );
  });

  it("detects the leak of a login that skips the dummy verification (control: the test can fail)", async () => {
    const hash = await timed.hash("right");
    const naive = async (identifier: string) =>
      identifier === "alice" ? timed.verify(hash, "wrong") : { ok: false, needsRehash: false };
    const s = await sample(
      200,
      () => naive("alice"),
      () => naive("nobody"),
    );
    const c = compareTimings(s.a, s.b);
    expect(c.superiority, JSON.stringify(c)).toBeGreaterThan(0.9);
    expect(Math.abs(c.z)).toBeGreaterThan(3.9);
  });
});
