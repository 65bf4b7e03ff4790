import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../core/logger.js";
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
});
