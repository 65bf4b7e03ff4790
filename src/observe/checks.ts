import { boolean, checkKeys, integer, string } from "../core/options.js";
import type { HealthCheck } from "./health.js";

/**
 * Readiness checks for the stores bulwark ships. They only call a method of the client you pass;
 * no driver is imported here.
 */

/** Anything with a Redis `PING` (ioredis `Redis`/`Cluster`, node-redis v4+). */
export interface PingClient {
  ping(): Promise<unknown>;
}

/** Anything with a `query(sql)` (pg `Pool`/`Client`, PGlite). */
export interface QueryClient {
  query(sql: string): Promise<unknown>;
}

export interface StoreCheckOptions {
  /** Check name in the report. Default `"redis"` / `"postgres"`. */
  name?: string;
  /** Time allowed, in milliseconds. Default the health `timeoutMs`. */
  timeoutMs?: number;
  /** Whether a failure fails readiness (true) or only warns. Default `true`. */
  critical?: boolean;
}

const KNOWN = ["name", "timeoutMs", "critical"] as const;

function resolve(where: string, options: StoreCheckOptions, fallbackName: string) {
  const o = checkKeys(where, options, KNOWN);
  const name = string(where, "name", o.name, fallbackName);
  const timeoutMs =
    o.timeoutMs === undefined ? undefined : integer(where, "timeoutMs", o.timeoutMs, undefined, { min: 1 });
  const critical = boolean(where, "critical", o.critical, true);
  return { name, componentType: "datastore", critical, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
}

/** Readiness check that sends `PING` and expects `PONG`. */
export function redisCheck(client: PingClient, options: StoreCheckOptions = {}): HealthCheck {
  const base = resolve("redisCheck", options, "redis");
  return {
    ...base,
    async check() {
      const reply = await client.ping();
      if (reply !== "PONG") throw new Error("unexpected PING reply");
    },
  };
}

/** Readiness check that runs `select 1`. */
export function postgresCheck(pool: QueryClient, options: StoreCheckOptions = {}): HealthCheck {
  const base = resolve("postgresCheck", options, "postgres");
  return {
    ...base,
    async check() {
      await pool.query("select 1");
    },
  };
}
