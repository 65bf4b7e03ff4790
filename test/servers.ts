import { createConnection } from "node:net";

/**
 * Real-server availability for suites that talk to Redis or PostgreSQL.
 * Outside CI a missing server skips the suite with one loud line saying how to start it;
 * with CI=true a missing server is a failure (the suite's `beforeAll` throws).
 */

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const START_HINT = {
  redis:
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
  postgres: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
} as const;

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const parsed = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: parsed.hostname, port: Number(parsed.port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export interface ServerAvailability {
  /** True when the suite should run. */
  available: boolean;
  /** Call in `beforeAll`: throws under CI when the server is missing. */
  assertUnderCi(): void;
}

async function availability(
  kind: "redis" | "postgres",
  url: string,
  port: number,
): Promise<ServerAvailability> {
  const ok = await reachable(url, port);
  const ci = process.env.CI === "true" || process.env.CI === "1";
  if (!ok && !ci) {
    console.warn(
      `\n!!! SKIPPING ${kind} suite: nothing answers at ${url}. Start it with: ${START_HINT[kind]}\n`,
    );
  }
  return {
    available: ok || ci,
    assertUnderCi() {
      if (!ok) throw new Error(`${kind} is required under CI but nothing answers at ${url}`);
    },
  };
}

/** Redis availability (top-level await in a test file, then `describe.runIf(redis.available)`). */
export const redisAvailability = () => availability("redis", REDIS_URL, 6379);
/** PostgreSQL availability, same contract. */
export const postgresAvailability = () => availability("postgres", DATABASE_URL, 5432);
