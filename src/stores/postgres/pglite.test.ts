import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { manualClock } from "../../core/clock.js";
import { isBulwarkError } from "../../core/errors.js";
import { silentLogger } from "../../core/logger.js";
import type { Algorithm } from "../../ratelimit/types.js";
import { describeRateLimitStoreContract } from "../store-contract.js";
import { postgresStore } from "./index.js";
import { storedState } from "./inspect.js";

describe("postgresStore on PGlite", () => {
  let db: PGlite;

  beforeAll(async () => {
    db = await PGlite.create();
    await postgresStore({ pool: db, sweepIntervalMs: 0 }).migrate();
  });

  afterAll(async () => {
    await db?.close();
  });

  describeRateLimitStoreContract(
    "pglite",
    ({ clock }) =>
      postgresStore({
        pool: db,
        timeoutMs: 5_000,
        sweepIntervalMs: 0,
        ...(clock === undefined ? {} : { dangerouslyTestClock: clock, logger: silentLogger }),
      }),
    { runs: 50, inspect: (key, spec) => storedState(db, "bulwark", key, spec) },
  );

  it("migrates with PGlite's exec and answers a check with one query", async () => {
    const store = postgresStore({ pool: db, timeoutMs: 5_000, sweepIntervalMs: 0 });
    await store.migrate();
    const query = vi.spyOn(db, "query");
    try {
      const limits = [{ name: "a", algorithm: "token-bucket", limit: 3, windowMs: 60_000 }] as const;
      expect((await store.consume({ key: "pglite:one", limits, cost: 1 })).limits[0]?.remaining).toBe(2);
      expect(query).toHaveBeenCalledTimes(1);
    } finally {
      query.mockRestore();
    }
  });

  it("rounds like JavaScript Math.round, also where round() and floor(x + 0.5) do not", async () => {
    const xs = [
      0.5,
      1.5,
      2.5,
      -0.5,
      -1.5,
      -2.5,
      7.49999,
      0.49999999999999994,
      -0.49999999999999994,
      2 ** 52 + 1,
      2 ** 52 + 3,
      -(2 ** 52) - 1,
      2 ** 53 - 1,
      1e300,
      123456.5,
      1 / 3,
      0,
    ];
    const { rows } = await db.query<{ r: number }>(
      "SELECT bulwark.rl_round(x) AS r FROM unnest($1::float8[]) WITH ORDINALITY AS t(x, i) ORDER BY i",
      [xs],
    );
    expect(rows.map((row) => row.r + 0)).toEqual(xs.map((x) => Math.round(x) + 0));
  });

  for (const algorithm of ["gcra", "token-bucket"] as Algorithm[]) {
    it(`${algorithm}: 7 per second admits a full burst of 7, then one every 1000/7 ms`, async () => {
      const clock = manualClock(Date.UTC(2026, 0, 1, 0, 0, 0, 3));
      const store = postgresStore({
        pool: db,
        timeoutMs: 5_000,
        sweepIntervalMs: 0,
        dangerouslyTestClock: clock,
        logger: silentLogger,
      });
      const limits = [{ name: "seven", algorithm, limit: 7, windowMs: 1_000 }];
      const key = `pglite:seven:${algorithm}`;
      for (let i = 0; i < 7; i++) {
        expect((await store.consume({ key, limits, cost: 1 })).limits[0]?.remaining).toBe(6 - i);
      }
      const denied = await store.consume({ key, limits, cost: 1 });
      expect(denied.allowed).toBe(false);
      expect(denied.limits[0]?.retryAfterMs).toBe(143);
      clock.advance(142);
      expect((await store.consume({ key, limits, cost: 1 })).allowed).toBe(false);
      clock.advance(1);
      expect((await store.consume({ key, limits, cost: 1 })).allowed).toBe(true);
      expect((await store.consume({ key, limits, cost: 1 })).allowed).toBe(false);
    });
  }

  it("rejects, never admits, when a stored state or reservation is not a finite number", async () => {
    const store = postgresStore({ pool: db, timeoutMs: 5_000, sweepIntervalMs: 0 });
    const unavailable = (error: unknown) => isBulwarkError(error, "ERR_RATELIMIT_STORE_UNAVAILABLE");
    const corrupt: [Algorithm, string][] = [
      ["token-bucket", "s0 = 'NaN'"],
      ["token-bucket", "s1 = NULL"],
      ["gcra", "s0 = 'Infinity'"],
      ["fixed-window", "s1 = '-Infinity'"],
      ["sliding-window", "s2 = NULL"],
      ["sliding-window", "expires_at = 'NaN'"],
    ];
    for (const [algorithm, set] of corrupt) {
      const key = `pglite:corrupt:${algorithm}:${set}`;
      const limits = [{ name: "a", algorithm, limit: 5, windowMs: 60_000 }];
      expect((await store.consume({ key, limits, cost: 1 })).allowed).toBe(true);
      await db.query(`UPDATE bulwark.rl_state SET ${set} WHERE key = $1`, [key]);
      await expect(store.consume({ key, limits, cost: 1 }), set).rejects.toSatisfy(unavailable);
      await expect(store.refund(key, limits, 1), set).rejects.toSatisfy(unavailable);
    }
    const limits = [{ name: "a", algorithm: "fixed-window", limit: 5, windowMs: 60_000 }] as const;
    const reserve = async (key: string) =>
      store.consume({ key, limits, cost: 1, reservation: { id: "r", ttlMs: 60_000 } });
    await reserve("pglite:corrupt:held");
    await db.query("UPDATE bulwark.rl_reservation SET amount = 'NaN' WHERE key = $1", [
      "pglite:corrupt:held",
    ]);
    await expect(store.settle("pglite:corrupt:held", limits, "r", "release")).rejects.toSatisfy(unavailable);
    await reserve("pglite:corrupt:expired");
    await db.query(
      "UPDATE bulwark.rl_reservation SET expires_at = 0, consumed_at = 'Infinity' WHERE key = $1",
      ["pglite:corrupt:expired"],
    );
    await expect(store.consume({ key: "pglite:corrupt:expired", limits, cost: 1 })).rejects.toSatisfy(
      unavailable,
    );
  });
});
