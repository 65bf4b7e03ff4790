import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe } from "vitest";
import { manualClock } from "../../core/clock.js";
import { idempotencyStoreContract, ledgerContract } from "../../idempotency/ledger.contract.js";
import { replayStoreContract } from "../../webhooks/replay-store.contract.js";
import { postgresIdempotencyStore, postgresLedger } from "./idempotency.js";
import { postgresReplayStore } from "./webhooks.js";

/** The embedded default: the same contracts as PostgreSQL, on PGlite (one instance for the file). */
describe("Postgres stores on PGlite", () => {
  let db: PGlite;
  beforeAll(async () => {
    db = new PGlite();
    await db.waitReady;
    await postgresReplayStore({ client: db }).migrate();
    await postgresLedger({ client: db }).migrate();
    await postgresIdempotencyStore({ client: db }).migrate();
  });
  afterAll(async () => {
    await db.close();
  });

  replayStoreContract("pglite", async () => {
    const clock = manualClock(Date.now());
    return { store: postgresReplayStore({ client: db, clock }), clock };
  });
  ledgerContract("pglite", async () => {
    const clock = manualClock(Date.now());
    return { ledger: postgresLedger({ client: db, clock }), clock };
  });
  idempotencyStoreContract("pglite", async () => {
    const clock = manualClock(Date.now());
    return { store: postgresIdempotencyStore({ client: db, clock }), clock };
  });
});
