/**
 * A worker process for cross-process.test.ts (not part of the library). It connects to the real
 * PostgreSQL and Redis, prints "ready", waits for "go" on stdin, then delivers one event through
 * `processOnce` on both ledgers, as the test's arguments say:
 *   deliver <n>  — n concurrent deliveries per ledger; the handler records one side effect
 *   throw        — one delivery whose handler throws
 *   hang         — one delivery whose handler opens its side effect but never finishes it
 * and prints a JSON line with the statuses.
 */
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import pg from "pg";
import { postgresLedger } from "../stores/postgres/idempotency.js";
import { redisLedger } from "../stores/redis/idempotency.js";
import { processOnce } from "./process-once.js";

const config = JSON.parse(process.argv[2] as string) as {
  databaseUrl: string;
  redisUrl: string;
  schema: string;
  prefix: string;
  eventId: string;
  mode: "deliver" | "throw" | "hang";
  deliveries: number;
  leaseMs: number;
};

const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 5 });
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
const ledgers = {
  pg: postgresLedger({ client: pool, table: `${config.schema}.ledger` }),
  redis: redisLedger({ redis, prefix: `${config.prefix}ledger:` }),
};

/** The side effect, done the way an application would: in the same store, atomically. */
const effects = {
  async pg(hang: boolean) {
    const client = await pool.connect();
    await client.query("BEGIN");
    await client.query(`INSERT INTO ${config.schema}.effects (event_id, pid) VALUES ($1, $2)`, [
      config.eventId,
      process.pid,
    ]);
    if (hang) {
      console.log("in-handler pg");
      await new Promise(() => {});
    }
    await client.query("COMMIT");
    client.release();
  },
  async redis(hang: boolean) {
    const multi = redis.multi().incr(`${config.prefix}effects:${config.eventId}`);
    if (hang) {
      console.log("in-handler redis");
      await new Promise(() => {});
    }
    await multi.exec();
  },
};

async function deliver(store: "pg" | "redis"): Promise<string> {
  const result = await processOnce(
    config.eventId,
    async () => {
      if (config.mode === "throw") throw new TypeError("handler failed");
      await effects[store](config.mode === "hang");
      return { by: process.pid };
    },
    {
      ledger: ledgers[store],
      leaseMs: config.leaseMs,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    },
  );
  return result.status;
}

console.log("ready");
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line !== "go") continue;
  const n = config.mode === "deliver" ? config.deliveries : 1;
  const [pgStatuses, redisStatuses] = await Promise.all([
    Promise.all(Array.from({ length: n }, () => deliver("pg"))),
    Promise.all(Array.from({ length: n }, () => deliver("redis"))),
  ]);
  console.log(JSON.stringify({ pg: pgStatuses, redis: redisStatuses }));
  break;
}
lines.close();
await pool.end();
redis.disconnect();
