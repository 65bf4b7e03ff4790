import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { isBulwarkError } from "../core/errors.js";
import { memoryLogger } from "../core/logger.js";
import { memoryAuthStore } from "./memory.js";
import { refreshTokens } from "./refresh.js";
import { randomToken } from "./secrets.js";

const DAY = 86_400_000;

function configCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return isBulwarkError(error) ? error.code : "other";
  }
  return undefined;
}

describe("refreshTokens service", () => {
  it("issues 256-bit base64url tokens with a UUID session id, idle expiry 14 days by default", async () => {
    const clock = manualClock();
    const s = refreshTokens({ store: memoryAuthStore(), clock });
    const issued = await s.issue("a");
    expect(issued.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(issued.token, "base64url")).toHaveLength(32);
    expect(issued.sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(issued.expiresAtMs).toBe(clock.now() + 14 * DAY);
  });

  it("logs a warning with account and session (never the token) when it detects reuse", async () => {
    const logger = memoryLogger();
    const s = refreshTokens({ store: memoryAuthStore(), clock: manualClock(), logger });
    const issued = await s.issue("acct-1");
    await s.rotate(issued.token);
    await s.rotate(issued.token);
    const warnings = logger.entries.filter((e) => e.level === "warn");
    expect(warnings).toEqual([
      {
        level: "warn",
        code: "ERR_REFRESH_TOKEN_INVALID",
        reason: "reused",
        accountId: "acct-1",
        sessionId: issued.sessionId,
        msg: "refresh token reuse detected: the session is revoked",
      },
    ]);
    expect(JSON.stringify(logger.entries)).not.toContain(issued.token);
  });

  it("keeps at most one working token per session along any sequence of refreshes and replays", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), async (picks) => {
        const s = refreshTokens({ store: memoryAuthStore(), clock: manualClock(), logger: memoryLogger() });
        const seen = [(await s.issue("a")).token];
        let revoked = false;
        for (const pick of picks) {
          const token = seen[pick % seen.length] as string;
          const current = seen[seen.length - 1];
          const r = await s.rotate(token);
          if (revoked) expect(r.ok).toBe(false);
          else if (token === current) {
            expect(r.ok).toBe(true);
            if (r.ok) seen.push(r.token);
          } else {
            expect(r).toMatchObject({ ok: false, reason: "reused" });
            revoked = true;
          }
        }
        // Once revoked, nothing in the family works any more.
        if (revoked) for (const t of seen) expect((await s.rotate(t)).ok).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it("refuses bad options at construction with ERR_CONFIG_INVALID, and warns once for a reuse grace", () => {
    const store = memoryAuthStore();
    expect(configCode(() => refreshTokens({} as never))).toBe("ERR_CONFIG_INVALID");
    expect(configCode(() => refreshTokens({ store, idleTimeoutMs: 1000 }))).toBe("ERR_CONFIG_INVALID");
    expect(configCode(() => refreshTokens({ store, idleTimeoutMs: 31 * DAY }))).toBe("ERR_CONFIG_INVALID");
    expect(configCode(() => refreshTokens({ store, dangerouslyAllowReuseWithinMs: 60_001 }))).toBe(
      "ERR_CONFIG_INVALID",
    );
    expect(configCode(() => refreshTokens({ store, idleTimeout: 1 } as never))).toBe("ERR_CONFIG_INVALID");
    const logger = memoryLogger();
    refreshTokens({ store, dangerouslyAllowReuseWithinMs: 2000, logger });
    expect(logger.entries.filter((e) => e.level === "warn")).toHaveLength(1);
  });

  it("refuses an empty or oversized account id", async () => {
    const s = refreshTokens({ store: memoryAuthStore() });
    await expect(s.issue("")).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    await expect(s.issue("x".repeat(257))).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    await expect(s.listSessions(42 as never)).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
  });

  it("answers a non-token without consulting the store", async () => {
    const store = memoryAuthStore();
    let calls = 0;
    const counting = {
      ...store,
      rotate: async (i: Parameters<typeof store.rotate>[0]) => {
        calls++;
        return store.rotate(i);
      },
    };
    const s = refreshTokens({ store: counting });
    for (const bad of ["", "a".repeat(44), `${randomToken().slice(1)}=`, undefined as never]) {
      expect(await s.rotate(bad)).toMatchObject({ ok: false, reason: "unknown" });
    }
    expect(calls).toBe(0);
  });
});
