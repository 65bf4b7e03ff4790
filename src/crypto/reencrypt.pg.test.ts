import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, postgresAvailability } from "../../test/servers.js";
import { toHex } from "./bytes.js";
import { keyring } from "./keyring.js";
import { reencryptProgress } from "./reencrypt.js";

const postgres = await postgresAvailability();
const WORKER = fileURLToPath(new URL("./fixtures/reencrypt-worker.ts", import.meta.url));
const ROWS = 400;
const OLD_KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff);
const NEW_KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 13 + 101) & 0xff);
const oldRing = keyring({ keys: [{ id: "old", key: OLD_KEY }] });
const rotating = keyring({
  keys: [
    { id: "old", key: OLD_KEY },
    { id: "new", key: NEW_KEY },
  ],
  primary: "new",
});
const newOnly = keyring({ keys: [{ id: "new", key: NEW_KEY }] });
const aadOf = (id: number, column: string) => `people:${id}:${column}`;
const ssnOf = (id: number) => `${String(id).padStart(3, "0")}-17-${String(9999 - id).padStart(4, "0")}`;

interface Worker {
  child: ChildProcess;
  lines: string[];
  /** Resolves when a stdout line satisfies `match`. */
  waitFor(match: (line: string) => boolean): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startWorker(table: string): Worker {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER], {
    env: {
      ...process.env,
      DATABASE_URL,
      REENCRYPT_TABLE: table,
      OLD_KEY: toHex(OLD_KEY),
      NEW_KEY: toHex(NEW_KEY),
      BATCH_SIZE: "25",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiters: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.match(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    child,
    lines,
    exited,
    waitFor: (match) =>
      new Promise((resolve, reject) => {
        const seen = lines.find(match);
        if (seen !== undefined) return resolve(seen);
        waiters.push({ match, resolve });
        void exited.then(({ code, signal, stderr: err }) =>
          reject(new Error(`worker exited (${code ?? signal}) before the expected line; stderr: ${err}`)),
        );
      }),
  };
}

describe.runIf(postgres.available)("reencryptTable on PostgreSQL, killed with SIGKILL mid-way", () => {
  const schema = `t_reencrypt_${randomBytes(4).toString("hex")}`;
  const table = `${schema}.people`;
  let pool: pg.Pool;

  beforeAll(async () => {
    postgres.assertUnderCi();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, ssn text, profile text)`);
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (let id = 1; id <= ROWS; id++) {
      values.push(
        id,
        oldRing.encrypt(ssnOf(id), { aad: aadOf(id, "ssn") }),
        id % 5 === 0 ? null : oldRing.encryptJson({ id }, { aad: aadOf(id, "profile") }),
      );
      tuples.push(`($${values.length - 2}, $${values.length - 1}, $${values.length})`);
    }
    await pool.query(`INSERT INTO ${table} (id, ssn, profile) VALUES ${tuples.join(", ")}`, values);
  });

  afterAll(async () => {
    await pool?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool?.end();
  });

  const pending = async () =>
    (await reencryptProgress({ db: pool, keyring: rotating, table, columns: ["ssn", "profile"] })).pending;

  it("resumes after a kill during a blocked UPDATE and after a kill at full speed; every row then opens under the new key", async () => {
    // 1. Hold a lock on row 150 so the worker's UPDATE for it is in flight at the server when it dies.
    const locker = await pool.connect();
    await locker.query("BEGIN");
    await locker.query(`SELECT id FROM ${table} WHERE id = 150 FOR UPDATE`);
    const first = startWorker(table);
    await first.waitFor((line) => line === "update 150");
    let blocked = false;
    for (let i = 0; i < 250 && !blocked; i++) {
      const { rows } = await pool.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
        [`UPDATE "${schema}"."people"%`],
      );
      blocked = rows[0].n === 1;
      if (!blocked) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(blocked).toBe(true);
    first.child.kill("SIGKILL");
    const firstExit = await first.exited;
    expect(firstExit.signal).toBe("SIGKILL");
    expect(first.lines.some((line) => line.startsWith("done"))).toBe(false);
    await locker.query("ROLLBACK");
    locker.release();
    // Rows 1–149 were rewritten; row 150's orphaned statement may still commit; 151–400 are untouched.
    expect(await pending()).toBeGreaterThanOrEqual(ROWS - 150);
    expect(await pending()).toBeLessThanOrEqual(ROWS - 149);

    // 2. Kill a second run at full speed, a few rows after it resumed.
    const second = startWorker(table);
    await second.waitFor((line) => second.lines.filter((l) => l.startsWith("update")).length >= 10 && !!line);
    second.child.kill("SIGKILL");
    expect((await second.exited).signal).toBe("SIGKILL");
    const left = await pending();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(ROWS - 149);

    // 3. Run to the end.
    const third = startWorker(table);
    const done = JSON.parse((await third.waitFor((line) => line.startsWith("done "))).slice(5));
    expect((await third.exited).code).toBe(0);
    expect(done.status).toBe("done");
    expect(done.updated + done.conflicts).toBe(done.scanned);
    expect(await pending()).toBe(0);

    const { rows } = await pool.query<{ id: number; ssn: string; profile: string | null }>(
      `SELECT id, ssn, profile FROM ${table} ORDER BY id`,
    );
    expect(rows).toHaveLength(ROWS);
    for (const row of rows) {
      expect(newOnly.decrypt(row.ssn, { aad: aadOf(row.id, "ssn") })).toBe(ssnOf(row.id));
      if (row.id % 5 === 0) expect(row.profile).toBeNull();
      else
        expect(newOnly.decryptJson(row.profile!, { aad: aadOf(row.id, "profile") })).toEqual({ id: row.id });
    }
  });
});
