import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ManualClock, manualClock } from "../core/clock.js";
import { memoryLogger } from "../core/logger.js";
import { type OneTimeTokens, oneTimeTokens } from "./onetime.js";
import { refreshTokens } from "./refresh.js";
import { credentialEpoch, randomToken } from "./secrets.js";
import type { AuthStore, OneTimeTokenStore, RefreshTokenStore } from "./store.js";

/**
 * One contract for every AuthStore (memory, PGlite, PostgreSQL): the services run against the store
 * under test with a manual clock, including the races the store must settle atomically.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;

export interface StoreHarness<S> {
  store: S;
  close(): Promise<void>;
}

/** A tiny account table whose password change is a compare-and-set on the credential epoch. */
function accounts() {
  const hashes = new Map<string, string>([
    ["alice", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$initial-alice"],
    ["bob", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$initial-bob"],
  ]);
  let changes = 0;
  return {
    epoch: async (id: string) => {
      const hash = hashes.get(id);
      return hash === undefined ? undefined : credentialEpoch(hash);
    },
    /** UPDATE accounts SET hash = $new WHERE id = $id AND epoch(hash) = $epoch. */
    changePassword: async (id: string, expectedEpoch: string, newHash: string) => {
      const hash = hashes.get(id);
      if (hash === undefined || credentialEpoch(hash) !== expectedEpoch) return false;
      hashes.set(id, newHash);
      changes++;
      return true;
    },
    get changes() {
      return changes;
    },
  };
}

export function describeRefreshStoreContract(
  name: string,
  open: () => Promise<StoreHarness<RefreshTokenStore>>,
): void {
  describe(`RefreshTokenStore contract: ${name}`, () => {
    let harness: StoreHarness<RefreshTokenStore>;
    let store: RefreshTokenStore;
    beforeAll(async () => {
      harness = await open();
      store = harness.store;
    });
    afterAll(async () => {
      await harness?.close();
    });

    const sessions = (clock: ManualClock, extra: { dangerouslyAllowReuseWithinMs?: number } = {}) =>
      refreshTokens({ store, clock, logger: memoryLogger(), ...extra });
    const account = () => `acct-${randomToken().slice(0, 12)}`;

    describe("refresh tokens", () => {
      it("rotates on every use and revokes the family when a rotated token comes back", async () => {
        const clock = manualClock();
        const s = sessions(clock);
        const a = account();
        const first = await s.issue(a);
        clock.advance(MINUTE);
        const second = await s.rotate(first.token);
        expect(second).toMatchObject({ ok: true, accountId: a, sessionId: first.sessionId });
        if (!second.ok) throw new Error("unreachable");
        expect(second.token).not.toBe(first.token);
        expect(second.token).toMatch(/^[A-Za-z0-9_-]{43}$/);

        clock.advance(MINUTE);
        expect(await s.rotate(first.token)).toMatchObject({
          ok: false,
          code: "ERR_REFRESH_TOKEN_INVALID",
          reason: "reused",
          accountId: a,
          sessionId: first.sessionId,
        });
        // The legitimate holder's current token dies with the family.
        expect(await s.rotate(second.token)).toMatchObject({ ok: false, reason: "revoked" });
        expect(await s.listSessions(a)).toEqual([]);
      });

      it("lets exactly one of concurrent refreshes with one token succeed; the losers' reuse revokes the family", async () => {
        for (const racers of [2, 8]) {
          const clock = manualClock();
          const s = sessions(clock);
          const a = account();
          const { token } = await s.issue(a);
          const results = await Promise.all(Array.from({ length: racers }, () => s.rotate(token)));
          const winners = results.filter((r) => r.ok);
          expect(winners, `${racers} racers`).toHaveLength(1);
          expect(results.filter((r) => !r.ok && r.reason === "reused").length).toBeGreaterThanOrEqual(1);
          for (const r of results) if (!r.ok) expect(["reused", "revoked"]).toContain(r.reason);
          const winner = winners[0];
          if (winner === undefined || !winner.ok) throw new Error("unreachable");
          expect(await s.rotate(winner.token)).toMatchObject({ ok: false, reason: "revoked" });
          expect(await s.rotate(token)).toMatchObject({ ok: false, reason: "revoked" });
        }
      });

      it("with a reuse grace, refuses the race losers without revoking, and revokes on reuse after the grace", async () => {
        const clock = manualClock();
        const s = sessions(clock, { dangerouslyAllowReuseWithinMs: 5_000 });
        const a = account();
        const { token } = await s.issue(a);
        const results = await Promise.all([s.rotate(token), s.rotate(token), s.rotate(token)]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok && r.reason === "superseded")).toHaveLength(2);
        const winner = results.find((r) => r.ok);
        if (winner === undefined || !winner.ok) throw new Error("unreachable");
        clock.advance(5_001);
        expect(await s.rotate(token)).toMatchObject({ ok: false, reason: "reused" });
        expect(await s.rotate(winner.token)).toMatchObject({ ok: false, reason: "revoked" });
      });

      it("expires a token unused for the idle timeout without revoking anything", async () => {
        const clock = manualClock();
        const s = refreshTokens({ store, clock, idleTimeoutMs: 10 * MINUTE, logger: memoryLogger() });
        const issued = await s.issue(account());
        expect(issued.expiresAtMs).toBe(clock.now() + 10 * MINUTE);
        clock.advance(10 * MINUTE);
        expect(await s.rotate(issued.token)).toEqual({
          ok: false,
          code: "ERR_REFRESH_TOKEN_INVALID",
          reason: "expired",
        });
      });

      it("ends the session at the absolute timeout however often it is refreshed", async () => {
        const clock = manualClock();
        const start = clock.now();
        const s = refreshTokens({
          store,
          clock,
          idleTimeoutMs: DAY,
          absoluteTimeoutMs: 3 * DAY,
          logger: memoryLogger(),
        });
        let { token } = await s.issue(account());
        for (let i = 0; i < 5; i++) {
          clock.advance(DAY / 2);
          const r = await s.rotate(token);
          if (!r.ok) throw new Error(`refresh ${i} failed: ${r.reason}`);
          expect(r.expiresAtMs).toBe(Math.min(clock.now() + DAY, start + 3 * DAY));
          token = r.token;
        }
        clock.set(start + 3 * DAY);
        expect(await s.rotate(token)).toMatchObject({ ok: false, reason: "expired" });
      });

      it("logs out: revoke ends the session (also when given an older token) and is idempotent", async () => {
        const clock = manualClock();
        const s = sessions(clock);
        const a = account();
        const first = await s.issue(a);
        const second = await s.rotate(first.token);
        if (!second.ok) throw new Error("unreachable");
        expect(await s.revoke(first.token)).toBe(true);
        expect(await s.revoke(second.token)).toBe(false);
        expect(await s.rotate(second.token)).toMatchObject({ ok: false, reason: "revoked" });
        expect(await s.revoke(randomToken())).toBe(false);
        expect(await s.revoke("not a token")).toBe(false);
      });

      it("logs out everywhere for one account only", async () => {
        const clock = manualClock();
        const s = sessions(clock);
        const a = account();
        const b = account();
        const mine = await Promise.all([s.issue(a), s.issue(a), s.issue(a)]);
        const theirs = await s.issue(b);
        expect(await s.revokeAll(a)).toBe(3);
        expect(await s.revokeAll(a)).toBe(0);
        for (const m of mine) expect(await s.rotate(m.token)).toMatchObject({ ok: false, reason: "revoked" });
        expect((await s.rotate(theirs.token)).ok).toBe(true);
      });

      it("lists active sessions with created, last used, user agent and IP, most recent first", async () => {
        const clock = manualClock();
        const s = sessions(clock);
        const a = account();
        const t0 = clock.now();
        const phone = await s.issue(a, { userAgent: "Phone/1.0", ip: "198.51.100.7" });
        clock.advance(MINUTE);
        const laptop = await s.issue(a, { userAgent: "Laptop/2.0\r\nX-Injected: 1", ip: "2001:db8::1" });
        clock.advance(MINUTE);
        const rotated = await s.rotate(phone.token, { ip: "198.51.100.8" });
        if (!rotated.ok) throw new Error("unreachable");
        const list = await s.listSessions(a);
        expect(list).toEqual([
          {
            sessionId: phone.sessionId,
            accountId: a,
            createdAtMs: t0,
            lastUsedAtMs: t0 + 2 * MINUTE,
            expiresAtMs: rotated.expiresAtMs,
            userAgent: "Phone/1.0",
            ip: "198.51.100.8",
          },
          {
            sessionId: laptop.sessionId,
            accountId: a,
            createdAtMs: t0 + MINUTE,
            lastUsedAtMs: t0 + MINUTE,
            expiresAtMs: laptop.expiresAtMs,
            userAgent: "Laptop/2.0X-Injected: 1",
            ip: "2001:db8::1",
          },
        ]);
        expect(await s.revokeSession(a, laptop.sessionId)).toBe(true);
        expect((await s.listSessions(a)).map((x) => x.sessionId)).toEqual([phone.sessionId]);
      });

      it("revokes a listed session only for its owner", async () => {
        const clock = manualClock();
        const s = sessions(clock);
        const a = account();
        const issued = await s.issue(a);
        expect(await s.revokeSession(account(), issued.sessionId)).toBe(false);
        expect(await s.revokeSession(a, "not-a-uuid")).toBe(false);
        expect((await s.rotate(issued.token)).ok).toBe(true);
      });

      it("answers unknown for a random or malformed token", async () => {
        const s = sessions(manualClock());
        expect(await s.rotate(randomToken())).toEqual({
          ok: false,
          code: "ERR_REFRESH_TOKEN_INVALID",
          reason: "unknown",
        });
        expect(await s.rotate("short")).toEqual({
          ok: false,
          code: "ERR_REFRESH_TOKEN_INVALID",
          reason: "unknown",
        });
        expect(await s.rotate(`${randomToken()}x`)).toMatchObject({ ok: false, reason: "unknown" });
      });

      it("purges ended sessions after the retention, after which their tokens are unknown", async () => {
        const clock = manualClock();
        const s = sessions(clock);
        const issued = await s.issue(account());
        const next = await s.rotate(issued.token);
        if (!next.ok) throw new Error("unreachable");
        await s.revoke(next.token);
        clock.advance(DAY);
        expect(await s.purge(2 * DAY)).toBeGreaterThanOrEqual(0);
        expect(await s.rotate(next.token)).toMatchObject({ ok: false, reason: "revoked" });
        clock.advance(2 * DAY);
        expect(await s.purge(2 * DAY)).toBeGreaterThanOrEqual(1);
        expect(await s.rotate(next.token)).toMatchObject({ ok: false, reason: "unknown" });
        expect(await s.rotate(issued.token)).toMatchObject({ ok: false, reason: "unknown" });
      });
    });
  });
}

export function describeOneTimeStoreContract(
  name: string,
  open: () => Promise<StoreHarness<OneTimeTokenStore>>,
): void {
  describe(`OneTimeTokenStore contract: ${name}`, () => {
    let harness: StoreHarness<OneTimeTokenStore>;
    let store: OneTimeTokenStore;
    beforeAll(async () => {
      harness = await open();
      store = harness.store;
    });
    afterAll(async () => {
      await harness?.close();
    });

    describe("one-time tokens", () => {
      const setup = (clock: ManualClock) => {
        const db = accounts();
        const tokens = oneTimeTokens({ store, clock, currentEpoch: (id) => db.epoch(id) });
        return { db, tokens };
      };

      /** The reset-password flow: consume, then a compare-and-set password change. */
      async function resetPassword(
        t: OneTimeTokens,
        db: ReturnType<typeof accounts>,
        token: string,
        hash: string,
      ) {
        const r = await t.consume(token, "reset-password");
        if (!r.ok) return r.reason;
        return (await db.changePassword(r.accountId, r.epoch, hash)) ? "changed" : "stale";
      }

      it("consumes a token once: the second use is unknown", async () => {
        const clock = manualClock();
        const { tokens } = setup(clock);
        const { token, expiresAtMs } = await tokens.issue({
          accountId: "alice",
          purpose: "verify-email",
          data: "a@x.test",
        });
        expect(expiresAtMs).toBe(clock.now() + 24 * 60 * MINUTE);
        const first = await tokens.consume(token, "verify-email");
        expect(first).toEqual({ ok: true, accountId: "alice", epoch: expect.any(String), data: "a@x.test" });
        expect(await tokens.consume(token, "verify-email")).toEqual({
          ok: false,
          code: "ERR_ONE_TIME_TOKEN_INVALID",
          reason: "unknown",
        });
      });

      it("changes the password exactly once when one reset token is used twice concurrently", async () => {
        for (const racers of [2, 8]) {
          const clock = manualClock();
          const { db, tokens } = setup(clock);
          const before = db.changes;
          const { token } = await tokens.issue({ accountId: "alice", purpose: "reset-password" });
          const results = await Promise.all(
            Array.from({ length: racers }, (_, i) => resetPassword(tokens, db, token, `new-hash-${i}`)),
          );
          expect(
            results.filter((r) => r === "changed"),
            `${racers} racers`,
          ).toHaveLength(1);
          expect(results.filter((r) => r === "unknown")).toHaveLength(racers - 1);
          expect(db.changes - before).toBe(1);
        }
      });

      it("invalidates outstanding tokens when the password changes (epoch binding)", async () => {
        const clock = manualClock();
        const { db, tokens } = setup(clock);
        const reset = await tokens.issue({ accountId: "bob", purpose: "reset-password" });
        const magic = await tokens.issue({ accountId: "bob", purpose: "magic-link" });
        const epoch = (await db.epoch("bob")) as string;
        expect(await db.changePassword("bob", epoch, "changed-elsewhere")).toBe(true);
        expect(await tokens.consume(reset.token, "reset-password")).toMatchObject({
          ok: false,
          reason: "stale",
        });
        expect(await tokens.consume(magic.token, "magic-link")).toMatchObject({ ok: false, reason: "stale" });
      });

      it("expires a reset token after 30 minutes and a magic link after 15", async () => {
        const clock = manualClock();
        const { tokens } = setup(clock);
        const reset = await tokens.issue({ accountId: "alice", purpose: "reset-password" });
        const magic = await tokens.issue({ accountId: "alice", purpose: "magic-link" });
        clock.advance(15 * MINUTE);
        expect(await tokens.consume(magic.token, "magic-link")).toMatchObject({
          ok: false,
          reason: "expired",
        });
        clock.advance(15 * MINUTE - 1);
        expect((await tokens.consume(reset.token, "reset-password")).ok).toBe(true);
        const late = await tokens.issue({ accountId: "alice", purpose: "reset-password" });
        clock.advance(30 * MINUTE);
        expect(await tokens.consume(late.token, "reset-password")).toMatchObject({
          ok: false,
          reason: "expired",
        });
        expect(await tokens.consume(late.token, "reset-password")).toMatchObject({
          ok: false,
          reason: "unknown",
        });
      });

      it("refuses a token presented for another purpose and leaves it usable for its own", async () => {
        const clock = manualClock();
        const { tokens } = setup(clock);
        const { token } = await tokens.issue({ accountId: "alice", purpose: "verify-email" });
        expect(await tokens.consume(token, "reset-password")).toMatchObject({ ok: false, reason: "unknown" });
        expect((await tokens.consume(token, "verify-email")).ok).toBe(true);
      });

      it("keeps one live token per account and purpose unless told otherwise, and revokes on demand", async () => {
        const clock = manualClock();
        const { tokens } = setup(clock);
        const first = await tokens.issue({ accountId: "alice", purpose: "reset-password" });
        const second = await tokens.issue({ accountId: "alice", purpose: "reset-password" });
        expect(await tokens.consume(first.token, "reset-password")).toMatchObject({ reason: "unknown" });
        const third = await tokens.issue({
          accountId: "alice",
          purpose: "reset-password",
          replacePrevious: false,
        });
        const verify = await tokens.issue({ accountId: "alice", purpose: "verify-email" });
        expect(await tokens.revokeAll("alice", "reset-password")).toBe(2);
        expect(await tokens.consume(second.token, "reset-password")).toMatchObject({ reason: "unknown" });
        expect(await tokens.consume(third.token, "reset-password")).toMatchObject({ reason: "unknown" });
        expect((await tokens.consume(verify.token, "verify-email")).ok).toBe(true);
      });

      it("purges expired tokens", async () => {
        const clock = manualClock();
        const { tokens } = setup(clock);
        await tokens.issue({ accountId: "bob", purpose: "magic-link" });
        clock.advance(16 * MINUTE);
        expect(await tokens.purgeExpired()).toBeGreaterThanOrEqual(1);
      });
    });
  });
}

/** Both contracts on one AuthStore, opened once. */
export function describeAuthStoreContract(name: string, open: () => Promise<StoreHarness<AuthStore>>): void {
  describe(`AuthStore: ${name}`, () => {
    let harness: StoreHarness<AuthStore> | undefined;
    const shared = async () => {
      harness ??= await open();
      return { store: harness.store, close: async () => {} };
    };
    afterAll(async () => {
      await harness?.close();
    });
    describeRefreshStoreContract(name, shared);
    describeOneTimeStoreContract(name, shared);
  });
}
