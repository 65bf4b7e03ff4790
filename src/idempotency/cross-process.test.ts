import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_URL, postgresAvailability, REDIS_URL, redisAvailability } from "../../test/servers.js";
import { manualClock } from "../core/clock.js";
import { memoryLogger } from "../core/logger.js";
import { postgresLedger } from "../stores/postgres/idempotency.js";
import { redisLedger } from "../stores/redis/idempotency.js";
import { processOnce } from "./process-once.js";

/**
 * Exactly-once across OS processes, against the real PostgreSQL and Redis: worker processes
 * (cross-process.worker.ts under tsx) deliver one event concurrently through processOnce; the
 * handler's side effect (a committed row, an EXEC'd INCR) is counted afterwards.
 */

const postgres = await postgresAvailability();
const redis = await redisAvailability();
const WORKER = fileURLToPath(new URL("./cross-process.worker.ts", import.meta.url));
const id = Math.random().toString(36).slice(2, 10);
const schema = `t_crossprocess_${id}`;
const prefix = `bulwark-test:cross-process:${id}:`;

interface Worker {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  waitFor(predicate: (line: string) => boolean): Promise<string>;
  exited: Promise<number | null>;
}

function startWorker(
  eventId: string,
  mode: "deliver" | "throw" | "hang",
  deliveries = 1,
  leaseMs = 60_000,
): Worker {
  const config = {
    databaseUrl: DATABASE_URL,
    redisUrl: REDIS_URL,
    schema,
    prefix,
    eventId,
    mode,
    deliveries,
    leaseMs,
  };
  const child = spawn(process.execPath, ["--import", "tsx", WORKER, JSON.stringify(config)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiters: Array<{ predicate: (line: string) => boolean; resolve: (line: string) => void }> = [];
  let buffered = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl = buffered.indexOf("\n");
    while (nl !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      for (const w of waiters.filter((w) => w.predicate(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
      nl = buffered.indexOf("\n");
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor(predicate) {
      const seen = lines.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ predicate, resolve });
        exited.then((code) => {
          if (!lines.some(predicate))
            reject(new Error(`worker exited (${code}) before the expected line:\n${stderr}`));
        });
      });
    },
  };
}

async function run(workers: Worker[]): Promise<Array<{ pg: string[]; redis: string[] }>> {
  await Promise.all(workers.map((w) => w.waitFor((l) => l === "ready")));
  for (const w of workers) w.child.stdin.write("go\n");
  const outputs = await Promise.all(workers.map((w) => w.waitFor((l) => l.startsWith("{"))));
  await Promise.all(workers.map((w) => w.exited));
  return outputs.map((o) => JSON.parse(o));
}

describe.runIf(postgres.available && redis.available)("processOnce across OS processes", () => {
  let pool: pg.Pool;
  let client: Redis;

  beforeAll(async () => {
    postgres.assertUnderCi();
    redis.assertUnderCi();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
    client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${schema}.effects (event_id text NOT NULL, pid integer NOT NULL)`);
    await postgresLedger({ client: pool, table: `${schema}.ledger` }).migrate();
  });

  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    await pool.end();
    await client.quit();
  });

  const pgEffects = async (eventId: string) =>
    Number(
      (await pool.query(`SELECT count(*) AS n FROM ${schema}.effects WHERE event_id = $1`, [eventId])).rows[0]
        .n,
    );
  const redisEffects = async (eventId: string) =>
    Number((await client.get(`${prefix}effects:${eventId}`)) ?? 0);

  it("50 concurrent deliveries of one event from 4 processes: the effect happens exactly once", async () => {
    const eventId = "evt_concurrent";
    const outputs = await run([13, 13, 12, 12].map((n) => startWorker(eventId, "deliver", n)));
    for (const store of ["pg", "redis"] as const) {
      const statuses = outputs.flatMap((o) => o[store]);
      expect(statuses).toHaveLength(50);
      expect(statuses.filter((s) => s === "processed")).toHaveLength(1);
      expect(statuses.every((s) => s === "processed" || s === "in_progress" || s === "duplicate")).toBe(true);
    }
    expect(await pgEffects(eventId)).toBe(1);
    expect(await redisEffects(eventId)).toBe(1);
    const pgRecord = await postgresLedger({ client: pool, table: `${schema}.ledger` }).get(eventId);
    expect(pgRecord).toMatchObject({ state: "done", attempts: 1 });
    expect(await redisLedger({ redis: client, prefix: `${prefix}ledger:` }).get(eventId)).toMatchObject({
      state: "done",
      attempts: 1,
    });
  });

  it("a handler that throws in one process: the next delivery retries and completes it", async () => {
    const eventId = "evt_throws";
    const [failed] = await run([startWorker(eventId, "throw")]);
    expect(failed).toEqual({ pg: ["failed"], redis: ["failed"] });
    const ledgers = {
      pg: postgresLedger({ client: pool, table: `${schema}.ledger` }),
      redis: redisLedger({ redis: client, prefix: `${prefix}ledger:` }),
    };
    for (const ledger of Object.values(ledgers)) {
      expect(await ledger.get(eventId)).toMatchObject({
        state: "failed",
        attempts: 1,
        lastError: "TypeError",
      });
      const retry = await processOnce(eventId, () => "paid", { ledger });
      expect(retry).toEqual({ status: "processed", result: "paid", attempt: 2 });
    }
  });

  it("a worker killed mid-handler: after the lease, another delivery completes it exactly once", async () => {
    const eventId = "evt_killed";
    const worker = startWorker(eventId, "hang", 1, 60_000);
    await worker.waitFor((l) => l === "ready");
    worker.child.stdin.write("go\n");
    await worker.waitFor((l) => l === "in-handler pg");
    await worker.waitFor((l) => l === "in-handler redis");
    worker.child.kill("SIGKILL");
    await worker.exited;

    const handler = async (store: "pg" | "redis") => {
      if (store === "pg")
        await pool.query(`INSERT INTO ${schema}.effects (event_id, pid) VALUES ($1, 0)`, [eventId]);
      else await client.incr(`${prefix}effects:${eventId}`);
      return "completed by the takeover";
    };
    for (const store of ["pg", "redis"] as const) {
      const make = (clock?: ReturnType<typeof manualClock>) =>
        store === "pg"
          ? postgresLedger({ client: pool, table: `${schema}.ledger`, ...(clock ? { clock } : {}) })
          : redisLedger({ redis: client, prefix: `${prefix}ledger:`, ...(clock ? { clock } : {}) });
      const early = await processOnce(eventId, () => handler(store), {
        ledger: make(),
        logger: memoryLogger(),
      });
      expect(early).toMatchObject({ status: "in_progress" });
      if (early.status === "in_progress") expect(early.retryAfterMs).toBeGreaterThan(30_000);
      const afterLease = manualClock(Date.now() + 61_000);
      const takeover = await processOnce(eventId, () => handler(store), { ledger: make(afterLease) });
      expect(takeover).toEqual({ status: "processed", result: "completed by the takeover", attempt: 2 });
      expect(await processOnce(eventId, () => handler(store), { ledger: make() })).toMatchObject({
        status: "duplicate",
        attempts: 2,
      });
    }
    expect(await pgEffects(eventId)).toBe(1);
    expect(await redisEffects(eventId)).toBe(1);
  });
});
