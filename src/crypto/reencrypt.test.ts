import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BulwarkError } from "../core/errors.js";
import { type Keyring, keyring } from "./keyring.js";
import { reencryptProgress, reencryptTable, type SqlClient } from "./reencrypt.js";

const OLD_KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 11);
const NEW_KEY = Uint8Array.from({ length: 32 }, (_, i) => 250 - i);
const oldRing = keyring({ keys: [{ id: "old", key: OLD_KEY }] });
const rotating = keyring({
  keys: [
    { id: "old", key: OLD_KEY },
    { id: "new", key: NEW_KEY },
  ],
  primary: "new",
});
const newOnly = keyring({ keys: [{ id: "new", key: NEW_KEY }] });
/** The BulwarkError a promise rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<BulwarkError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(BulwarkError);
  return outcome.error as BulwarkError;
}

const aad = ({ id, column }: { id: unknown; column: string }) => `people:${String(id)}:${column}`;

let pglite: PGlite;
let tableCounter = 0;

beforeAll(async () => {
  pglite = new PGlite();
  await pglite.query("CREATE SCHEMA app");
});

afterAll(async () => {
  await pglite.close();
});

const ssnOf = (id: number) =>
  `${String(100 + (id % 900)).padStart(3, "0")}-42-${String(id).padStart(4, "0")}`;
const profileOf = (id: number) => ({ id, tags: ["a", id % 3 === 0 ? "b" : "c"] });

/** A fresh table of `rows` people, every value sealed under the old key; profile is NULL for every 7th. */
async function seed(rows: number, ring: Keyring = oldRing): Promise<string> {
  const table = `app.people_${++tableCounter}`;
  await pglite.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, ssn text, profile text)`);
  const values: unknown[] = [];
  const tuples: string[] = [];
  for (let id = 1; id <= rows; id++) {
    values.push(
      id,
      ring.encrypt(ssnOf(id), { aad: aad({ id, column: "ssn" }) }),
      id % 7 === 0 ? null : ring.encryptJson(profileOf(id), { aad: aad({ id, column: "profile" }) }),
    );
    tuples.push(`($${values.length - 2}, $${values.length - 1}, $${values.length})`);
  }
  await pglite.query(`INSERT INTO ${table} (id, ssn, profile) VALUES ${tuples.join(", ")}`, values);
  return table;
}

/** Every row decrypts under a keyring holding only the new key, to exactly its original plaintext. */
async function expectAllUnderNewKey(table: string, rows: number): Promise<void> {
  const result = await pglite.query<{ id: number; ssn: string; profile: string | null }>(
    `SELECT id, ssn, profile FROM ${table} ORDER BY id`,
  );
  expect(result.rows).toHaveLength(rows);
  for (const row of result.rows) {
    expect(newOnly.decrypt(row.ssn, { aad: aad({ id: row.id, column: "ssn" }) })).toBe(ssnOf(row.id));
    if (row.id % 7 === 0) expect(row.profile).toBeNull();
    else
      expect(newOnly.decryptJson(row.profile!, { aad: aad({ id: row.id, column: "profile" }) })).toEqual(
        profileOf(row.id),
      );
  }
}

/** Wraps the PGlite client, recording ids whose UPDATE changed a row and running `before` hooks. */
function recordingDb(before?: (text: string, params: unknown[]) => Promise<void> | void) {
  const updatedIds: unknown[] = [];
  const db: SqlClient = {
    async query(text, params = []) {
      await before?.(text, params);
      const result = await pglite.query<Record<string, unknown>>(text, params);
      if (text.startsWith("UPDATE") && result.rows.length === 1) updatedIds.push(params[0]);
      return result;
    },
  };
  return { db, updatedIds };
}

describe("reencryptTable on PGlite", () => {
  it("re-encrypts every value under the primary key in small batches", async () => {
    const table = await seed(60);
    const progress: number[] = [];
    const result = await reencryptTable({
      db: pglite,
      keyring: rotating,
      table,
      columns: ["ssn", "profile"],
      aad,
      batchSize: 16,
      onProgress: (p) => progress.push(p.scanned),
    });
    expect(result).toEqual({ status: "done", scanned: 60, updated: 60, conflicts: 0 });
    expect(progress).toEqual([16, 32, 48, 60]);
    await expectAllUnderNewKey(table, 60);
    expect(
      await reencryptProgress({ db: pglite, keyring: rotating, table, columns: ["ssn", "profile"] }),
    ).toEqual({
      total: 60,
      pending: 0,
    });
  });

  it("stops on abort and, run again, finishes without touching a row twice", async () => {
    const table = await seed(50);
    const controller = new AbortController();
    const first = recordingDb((text) => {
      if (text.startsWith("UPDATE") && first.updatedIds.length === 23) controller.abort();
    });
    const stopped = await reencryptTable({
      db: first.db,
      keyring: rotating,
      table,
      columns: ["ssn", "profile"],
      aad,
      batchSize: 10,
      signal: controller.signal,
    });
    expect(stopped.status).toBe("aborted");
    expect(stopped.updated).toBe(24);
    expect(
      await reencryptProgress({ db: pglite, keyring: rotating, table, columns: ["ssn", "profile"] }),
    ).toEqual({
      total: 50,
      pending: 26,
    });

    const second = recordingDb();
    const resumed = await reencryptTable({
      db: second.db,
      keyring: rotating,
      table,
      columns: ["ssn", "profile"],
      aad,
      batchSize: 10,
    });
    expect(resumed).toEqual({ status: "done", scanned: 26, updated: 26, conflicts: 0 });
    expect(new Set([...first.updatedIds, ...second.updatedIds]).size).toBe(50);
    await expectAllUnderNewKey(table, 50);
  });

  it("survives being aborted at many different points in a row", async () => {
    const table = await seed(40);
    const all: unknown[] = [];
    let runs = 0;
    let seed32 = 0x9e3779b9;
    while (true) {
      runs++;
      seed32 = (seed32 * 1103515245 + 12345) >>> 0;
      const stopAfter = seed32 % 9;
      const controller = new AbortController();
      const run = recordingDb((text) => {
        if (text.startsWith("UPDATE") && run.updatedIds.length >= stopAfter) controller.abort();
      });
      const result = await reencryptTable({
        db: run.db,
        keyring: rotating,
        table,
        columns: ["ssn", "profile"],
        aad,
        batchSize: 7,
        signal: controller.signal,
      });
      all.push(...run.updatedIds);
      if (result.status === "done") break;
      expect(runs).toBeLessThan(100);
    }
    expect(runs).toBeGreaterThan(3);
    expect(all).toHaveLength(40);
    expect(new Set(all).size).toBe(40);
    await expectAllUnderNewKey(table, 40);
  });

  it("leaves a row the application rewrote between read and write, and counts it as a conflict", async () => {
    const table = await seed(10);
    const appValue = rotating.encrypt("999-99-9999", { aad: aad({ id: 4, column: "ssn" }) });
    const { db } = recordingDb(async (text, params) => {
      if (text.startsWith("UPDATE") && params[0] === 4) {
        await pglite.query(`UPDATE ${table} SET ssn = $1 WHERE id = 4`, [appValue]);
      }
    });
    const result = await reencryptTable({ db, keyring: rotating, table, columns: ["ssn", "profile"], aad });
    expect(result).toEqual({ status: "done", scanned: 10, updated: 9, conflicts: 1 });
    const row = await pglite.query<{ ssn: string; profile: string }>(
      `SELECT ssn, profile FROM ${table} WHERE id = 4`,
    );
    expect(row.rows[0]!.ssn).toBe(appValue);
    expect(rotating.needsReencrypt(row.rows[0]!.profile)).toBe(true);
    const again = await reencryptTable({
      db: pglite,
      keyring: rotating,
      table,
      columns: ["ssn", "profile"],
      aad,
    });
    expect(again).toEqual({ status: "done", scanned: 1, updated: 1, conflicts: 0 });
  });

  it("rewrites only the stale columns of a row and skips NULLs and rows already done", async () => {
    const table = await seed(14);
    const done = rotating.encrypt(ssnOf(3), { aad: aad({ id: 3, column: "ssn" }) });
    await pglite.query(`UPDATE ${table} SET ssn = $1 WHERE id = 3`, [done]);
    await pglite.query(`UPDATE ${table} SET ssn = $1, profile = $2 WHERE id = 5`, [
      rotating.encrypt(ssnOf(5), { aad: aad({ id: 5, column: "ssn" }) }),
      rotating.encryptJson(profileOf(5), { aad: aad({ id: 5, column: "profile" }) }),
    ]);
    const statements: string[] = [];
    const { db } = recordingDb((text, params) => {
      if (text.startsWith("UPDATE") && params[0] === 3) statements.push(text);
    });
    const result = await reencryptTable({ db, keyring: rotating, table, columns: ["ssn", "profile"], aad });
    expect(result).toEqual({ status: "done", scanned: 13, updated: 13, conflicts: 0 });
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('SET "profile" = $2 WHERE "id" = $1 AND "profile" = $3');
    expect((await pglite.query<{ ssn: string }>(`SELECT ssn FROM ${table} WHERE id = 3`)).rows[0]!.ssn).toBe(
      done,
    );
    await expectAllUnderNewKey(table, 14);
  });

  it("stops with ERR_CRYPTO_DECRYPT_FAILED naming the row, not the value, when a value does not open", async () => {
    const table = await seed(8);
    const moved = oldRing.encrypt("copied-from-row-1", { aad: aad({ id: 1, column: "ssn" }) });
    await pglite.query(`UPDATE ${table} SET ssn = $1 WHERE id = 6`, [moved]);
    const error = await rejection(
      reencryptTable({ db: pglite, keyring: rotating, table, columns: ["ssn", "profile"], aad }),
    );
    expect(error.code).toBe("ERR_CRYPTO_DECRYPT_FAILED");
    expect(error.details).toEqual({ table, column: "ssn", id: 6 });
    expect(error.message).toBe("decryption failed");
    expect(await reencryptProgress({ db: pglite, keyring: rotating, table, columns: ["ssn"] })).toEqual({
      total: 8,
      pending: 3,
    });
  });

  it("refuses a plaintext value in an encrypted column instead of guessing", async () => {
    const table = await seed(3);
    await pglite.query(`UPDATE ${table} SET profile = 'legacy plaintext' WHERE id = 2`);
    const error = await rejection(
      reencryptTable({ db: pglite, keyring: rotating, table, columns: ["profile"], aad }),
    );
    expect(error.code).toBe("ERR_CRYPTO_DECRYPT_FAILED");
    expect(error.details).toEqual({ table, column: "profile", id: 2 });
  });

  const base = {
    db: { query: async () => ({ rows: [] }) },
    keyring: rotating,
    table: "t",
    columns: ["c"],
    aad,
  };
  it.each([
    ["an unknown option, with a hint", { ...base, batchsize: 5 }, /did you mean "batchSize"/],
    ["a db without query()", { ...base, db: {} }, /"db" must have a query/],
    ["a missing keyring", { ...base, keyring: undefined }, /"keyring" must be a keyring\(\) instance/],
    [
      "a table name with SQL in it",
      { ...base, table: "t; DROP TABLE users" },
      /"table" must be a plain SQL identifier/,
    ],
    ["a three-part table name", { ...base, table: "a.b.c" }, /"table" must be a plain SQL identifier/],
    ["a quoted column", { ...base, columns: ['c"x'] }, /"columns\[0\]" must be a plain SQL identifier/],
    ["an empty column list", { ...base, columns: [] }, /"columns" must be a non-empty array/],
    ["a repeated column", { ...base, columns: ["c", "c"] }, /lists a column twice/],
    ["the id column among the columns", { ...base, columns: ["id"] }, /must not include the id column/],
    ["a bad id column", { ...base, idColumn: "1id" }, /"idColumn" must be a plain SQL identifier/],
    ["an AAD that is not a function", { ...base, aad: "people" }, /"aad" must be a function/],
    ["a zero batch size", { ...base, batchSize: 0 }, /"batchSize" must be ≥ 1/],
    ["a signal that is not an AbortSignal", { ...base, signal: {} }, /"signal" must be an AbortSignal/],
    ["an onProgress that is not a function", { ...base, onProgress: 1 }, /"onProgress" must be a function/],
  ])("refuses %s with ERR_CONFIG_INVALID", async (_, options, message) => {
    const error = await rejection(reencryptTable(options as never));
    expect(error.code).toBe("ERR_CONFIG_INVALID");
    expect(error.message).toMatch(message);
  });
});
