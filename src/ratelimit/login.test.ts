import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { silentLogger } from "../core/logger.js";
import type { RespondOutcome } from "../core/outcome.js";
import { memoryStore } from "../stores/memory/index.js";
import { type LoginGuardOptions, loginGuard, loginLockedResponse } from "./login.js";
import type { RateLimitStore } from "./types.js";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

function setup(options: LoginGuardOptions = {}) {
  const clock = manualClock(T0);
  const store = memoryStore({ clock });
  const guard = loginGuard({ store, clock, logger: silentLogger, ...options });
  return { clock, store, guard };
}

const locked = (retryAfterMs: number) => ({ allowed: false, retryAfterMs, code: "ERR_LOGIN_LOCKED" });
const allowed = { allowed: true, retryAfterMs: 0, code: undefined };

describe("loginGuard", () => {
  it("locks an account+IP pair after maxFailures within the window, for lockoutMs", async () => {
    const { guard, clock } = setup();
    for (let i = 0; i < 4; i++) expect(await guard.recordFailure("alice", "192.0.2.1")).toEqual(allowed);
    expect(await guard.recordFailure("alice", "192.0.2.1")).toEqual(locked(30 * MIN));
    clock.advance(10 * MIN);
    expect(await guard.check("alice", "192.0.2.1")).toEqual(locked(20 * MIN));
    // The same account from elsewhere, and the same IP for another account, are not locked.
    expect(await guard.check("alice", "198.51.100.1")).toEqual(allowed);
    expect(await guard.check("bob", "192.0.2.1")).toEqual(allowed);
    clock.advance(20 * MIN);
    expect(await guard.check("alice", "192.0.2.1")).toEqual(allowed);
    // Counting starts afresh after a lockout.
    expect(await guard.recordFailure("alice", "192.0.2.1")).toEqual(allowed);
  });

  it("forgets failures older than the window", async () => {
    const { guard, clock } = setup({ windowMs: 15 * MIN });
    for (let i = 0; i < 4; i++) await guard.recordFailure("alice", "192.0.2.1");
    clock.advance(30 * MIN);
    expect(await guard.recordFailure("alice", "192.0.2.1")).toEqual(allowed);
  });

  it("locks an account for every IP after maxFailuresPerAccount from many IPs", async () => {
    const { guard } = setup({ maxFailures: 5, maxFailuresPerAccount: 6 });
    for (let i = 1; i <= 5; i++)
      expect((await guard.recordFailure("alice", `192.0.2.${i}`)).allowed).toBe(true);
    expect(await guard.recordFailure("alice", "192.0.2.6")).toEqual(locked(30 * MIN));
    expect(await guard.check("alice", "203.0.113.50")).toEqual(locked(30 * MIN));
  });

  it("locks an IP guessing across many accounts after maxFailuresPerIp", async () => {
    const { guard } = setup({ maxFailuresPerIp: 3 });
    await guard.recordFailure("a", "192.0.2.1");
    await guard.recordFailure("b", "192.0.2.1");
    expect(await guard.recordFailure("c", "192.0.2.1")).toEqual(locked(30 * MIN));
    expect(await guard.check("someone-else", "192.0.2.1")).toEqual(locked(30 * MIN));
    expect(await guard.check("a", "192.0.2.2")).toEqual(allowed);
  });

  it("a success forgets the pair's failures", async () => {
    const { guard } = setup();
    for (let i = 0; i < 4; i++) await guard.recordFailure("alice", "192.0.2.1");
    await guard.recordSuccess("alice", "192.0.2.1");
    for (let i = 0; i < 4; i++) expect((await guard.recordFailure("alice", "192.0.2.1")).allowed).toBe(true);
  });

  it("growing lockout: each further lockout lasts `factor` times longer, up to maxLockoutMs", async () => {
    const { guard, clock } = setup({
      maxFailures: 2,
      lockoutMs: MIN,
      growth: { factor: 3, maxLockoutMs: 5 * MIN },
    });
    const lockOut = async () => {
      await guard.recordFailure("alice", "192.0.2.1");
      return guard.recordFailure("alice", "192.0.2.1");
    };
    expect(await lockOut()).toEqual(locked(MIN));
    clock.advance(MIN);
    expect(await lockOut()).toEqual(locked(3 * MIN));
    clock.advance(3 * MIN);
    expect(await lockOut()).toEqual(locked(5 * MIN));
    clock.advance(5 * MIN);
    expect(await lockOut()).toEqual(locked(5 * MIN));
  });

  it("answers identically whether the account exists or not", async () => {
    const { guard } = setup({ maxFailures: 3 });
    const passwords = new Map([["alice", "correct horse battery staple"]]);
    const login = async (account: string, password: string) => {
      const gate = await guard.check(account, "192.0.2.1");
      if (!gate.allowed) return gate;
      if (passwords.get(account) === password) {
        await guard.recordSuccess(account, "192.0.2.1");
        return gate;
      }
      return guard.recordFailure(account, "192.0.2.1");
    };
    const attempt = (account: string) => login(account, "guess");
    const existing: unknown[] = [];
    const missing: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      existing.push(await attempt("alice"));
      missing.push(await attempt("mallory"));
    }
    expect(missing).toEqual(existing);
    expect(existing.at(-1)).toMatchObject({ allowed: false, code: "ERR_LOGIN_LOCKED" });
  });

  it("a burst of concurrent guesses gets at most maxFailures password checks, then a lockout", async () => {
    const { guard } = setup({ maxFailures: 5 });
    let verified = 0;
    const attempt = async () => {
      const gate = await guard.check("alice", "192.0.2.1");
      if (!gate.allowed) return gate;
      verified++;
      await new Promise((resolve) => setTimeout(resolve, 5)); // the password check takes a while
      return guard.recordFailure("alice", "192.0.2.1");
    };
    const answers = await Promise.all(Array.from({ length: 20 }, attempt));
    expect(verified).toBe(5);
    expect(answers.filter((a) => a.allowed)).toHaveLength(0);
    for (const a of answers) expect(a.code).toBe("ERR_LOGIN_LOCKED");
    expect(await guard.check("alice", "192.0.2.1")).toEqual(locked(30 * MIN));
  });

  it("attempts in flight count until settled; a success gives its attempt back", async () => {
    const { guard } = setup({ maxFailures: 3 });
    for (let i = 0; i < 3; i++) expect(await guard.check("alice", "192.0.2.1")).toEqual(allowed);
    const full = await guard.check("alice", "192.0.2.1");
    expect(full).toMatchObject({ allowed: false, code: "ERR_LOGIN_LOCKED" });
    expect(full.retryAfterMs).toBe(60_000); // attempts in flight settle within attemptTimeoutMs
    // A success gives its own attempt back and forgets the pair's failures.
    await guard.recordSuccess("alice", "192.0.2.1");
    for (let i = 0; i < 3; i++) expect(await guard.check("alice", "192.0.2.1")).toEqual(allowed);
    expect(await guard.check("alice", "192.0.2.1")).toMatchObject({
      allowed: false,
      code: "ERR_LOGIN_LOCKED",
    });
  });

  it("an attempt never settled (a crashed request) stops counting after attemptTimeoutMs", async () => {
    const { guard, clock } = setup({ maxFailures: 2, attemptTimeoutMs: 10_000 });
    await guard.check("alice", "192.0.2.1");
    await guard.check("alice", "192.0.2.1");
    const full = await guard.check("alice", "192.0.2.1");
    expect(full).toMatchObject({ allowed: false, code: "ERR_LOGIN_LOCKED" });
    expect(full.retryAfterMs).toBeGreaterThan(0);
    clock.advance(10_000);
    expect(await guard.check("alice", "192.0.2.1")).toEqual(allowed);
    // The expired attempts are not settled by a late record: this failure counts once.
    expect(await guard.recordFailure("alice", "192.0.2.1")).toEqual(allowed);
  });

  it("normalises account names (case, spaces, compatibility forms)", async () => {
    const { guard } = setup({ maxFailures: 2 });
    await guard.recordFailure(" Alice ", "192.0.2.1");
    expect(await guard.recordFailure("ＡＬＩＣＥ", "192.0.2.1")).toEqual(locked(30 * MIN));
  });

  it("state lives in the store: a new guard on the same store sees the lockout (restart)", async () => {
    const { guard, store, clock } = setup({ maxFailures: 1 });
    await guard.recordFailure("alice", "192.0.2.1");
    const restarted = loginGuard({ store, clock, maxFailures: 1, logger: silentLogger });
    expect(await restarted.check("alice", "192.0.2.1")).toEqual(locked(30 * MIN));
  });

  it("refuses non-string accounts and empty IPs with ERR_RATELIMIT_INVALID_KEY", async () => {
    const { guard } = setup();
    const invalid = { allowed: false, retryAfterMs: 0, code: "ERR_RATELIMIT_INVALID_KEY" };
    expect(await guard.check(5 as never, "192.0.2.1")).toEqual(invalid);
    expect(await guard.recordFailure("alice", "")).toEqual(invalid);
    await expect(guard.recordSuccess(undefined as never, "x")).resolves.toBeUndefined();
  });

  it("store down: closed refuses with ERR_RATELIMIT_STORE_UNAVAILABLE, open allows", async () => {
    const down: RateLimitStore = {
      kind: "down",
      consume: () => Promise.reject(new Error("ECONNREFUSED")),
      refund: () => Promise.reject(new Error("x")),
      settle: () => Promise.reject(new Error("x")),
      reset: () => Promise.reject(new Error("x")),
      block: () => Promise.reject(new Error("x")),
    };
    const closed = loginGuard({ store: down, logger: silentLogger });
    const unavailable = { allowed: false, retryAfterMs: 1000, code: "ERR_RATELIMIT_STORE_UNAVAILABLE" };
    expect(await closed.check("alice", "192.0.2.1")).toEqual(unavailable);
    expect(await closed.recordFailure("alice", "192.0.2.1")).toEqual(unavailable);
    const open = loginGuard({ store: down, logger: silentLogger, failMode: "open" });
    expect(await open.check("alice", "192.0.2.1")).toEqual(allowed);
  });

  it("loginLockedResponse: 429 ERR_LOGIN_LOCKED with Retry-After, the same for every account", () => {
    const o = loginLockedResponse({ allowed: false, retryAfterMs: 90_500, code: "ERR_LOGIN_LOCKED" });
    expect(o.status).toBe(429);
    expect(o.headers).toContainEqual(["retry-after", "91"]);
    expect(JSON.parse(String((o as RespondOutcome).body))).toEqual({
      type: "https://bulwark.dev/errors/ERR_LOGIN_LOCKED",
      title: "Too Many Failed Logins",
      status: 429,
      code: "ERR_LOGIN_LOCKED",
    });
    const down = loginLockedResponse({
      allowed: false,
      retryAfterMs: 1000,
      code: "ERR_RATELIMIT_STORE_UNAVAILABLE",
    });
    expect(down.status).toBe(503);
  });

  it("refuses bad options", () => {
    const bad: unknown[] = [
      { maxFailures: 0 },
      { windowMs: 10 },
      { lockoutMs: 1.5 },
      { growth: { factor: 0.5 } },
      { lockoutMs: 10 * MIN, growth: { maxLockoutMs: MIN } },
      { failMode: "ajar" },
      { normalizeAccount: "lower" },
      { attemptTimeoutMs: 10 },
    ];
    for (const options of bad) {
      expect(() => loginGuard(options as LoginGuardOptions)).toThrowError(
        expect.objectContaining({ code: "ERR_CONFIG_INVALID" }),
      );
    }
    expect(() => loginGuard({ maxFailure: 3 } as never)).toThrowError(/did you mean "maxFailures"/);
  });
});
