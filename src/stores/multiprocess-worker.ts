/**
 * A child process of the multi-process store proofs (forked by multiprocess.test.ts):
 * `node --import tsx multiprocess-worker.ts '<json config>'` where the config names the Redis key
 * prefix and/or the Postgres schema to use, and this process's app-clock skew.
 *
 * Protocol over IPC: the worker connects, warms up and sends `{ type: "ready" }`; each
 * `{ type: "go", store, key, checks, skewed }` fires `checks` concurrent consumes on that store (with
 * this process's `Date.now` moved by `skewMs` when `skewed`) and answers
 * `{ type: "done", allowed, failed }`; `{ type: "exit" }` closes everything.
 */
import { Redis } from "ioredis";
import pg from "pg";
import type { LimitSpec, RateLimitStore } from "../ratelimit/types.js";
import { postgresStore } from "./postgres/store.js";
import { redisStore } from "./redis/store.js";

interface WorkerConfig {
  redisPrefix?: string;
  postgresSchema?: string;
  skewMs: number;
}

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
const realNow = Date.now.bind(Date);

/** Windows of an hour: nothing refills while a phase runs, and a skewed app clock would show. */
const PROOF_LIMITS: readonly LimitSpec[] = [
  { name: "hourly", algorithm: "fixed-window", limit: 100, windowMs: 3_600_000 },
  { name: "paced", algorithm: "gcra", limit: 100, windowMs: 3_600_000 },
];

type Message =
  | { type: "go"; store: "redis" | "postgres"; key: string; checks: number; skewed: boolean }
  | { type: "exit" };

async function main(): Promise<void> {
  const stores: Partial<Record<"redis" | "postgres", RateLimitStore>> = {};
  const closers: Array<() => Promise<void>> = [];
  if (config.redisPrefix !== undefined) {
    const client = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", {
      enableAutoPipelining: true,
    });
    stores.redis = redisStore({ client, prefix: config.redisPrefix, timeoutMs: 5_000 });
    closers.push(async () => client.disconnect());
  }
  if (config.postgresSchema !== undefined) {
    const pool = new pg.Pool({
      connectionString: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
      max: 5,
    });
    stores.postgres = postgresStore({
      pool,
      schema: config.postgresSchema,
      timeoutMs: 10_000,
      sweepIntervalMs: 0,
    });
    closers.push(() => pool.end());
  }
  for (const store of Object.values(stores)) {
    await store.consume({ key: `warmup:${process.pid}`, limits: PROOF_LIMITS, cost: 0 });
  }
  process.send?.({ type: "ready" });

  process.on("message", async (message: Message) => {
    if (message.type === "exit") {
      for (const close of closers) await close();
      process.exit(0);
    }
    const store = stores[message.store];
    if (store === undefined) throw new Error(`no ${message.store} store in this worker`);
    Date.now = message.skewed ? () => realNow() + config.skewMs : realNow;
    const results = await Promise.allSettled(
      Array.from({ length: message.checks }, () =>
        store.consume({ key: message.key, limits: PROOF_LIMITS, cost: 1 }),
      ),
    );
    Date.now = realNow;
    let allowed = 0;
    let failed = 0;
    for (const r of results) {
      if (r.status === "rejected") failed++;
      else if (r.value.allowed) allowed++;
    }
    process.send?.({ type: "done", allowed, failed });
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
