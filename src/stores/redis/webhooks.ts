import type { Cluster, Redis } from "ioredis";
import { checkKeys, configError, describe, string } from "../../core/options.js";
import type { ReplayStore } from "../../webhooks/types.js";

export interface RedisReplayStoreOptions {
  /** An ioredis client or cluster. */
  redis: Redis | Cluster;
  /** Prefix of every key this store writes. Default: "bulwark:webhook-replay:". */
  prefix?: string;
}

/**
 * A replay store on Redis: `SET key 1 PX ttl NX`, so of concurrent deliveries of one id across every
 * instance exactly one is fresh; Redis expires the key when the tolerance window has passed.
 */
export function redisReplayStore(options: RedisReplayStoreOptions): ReplayStore {
  const o = checkKeys("redisReplayStore", options, ["redis", "prefix"]);
  const redis = o.redis as Redis | Cluster;
  if (redis === null || typeof redis !== "object" || typeof (redis as Redis).set !== "function") {
    throw configError("redisReplayStore", `"redis" must be an ioredis client, got ${describe(redis)}`);
  }
  const prefix = string("redisReplayStore", "prefix", o.prefix, "bulwark:webhook-replay:");
  return {
    kind: "redis",
    async remember(key, ttlMs) {
      const reply = await redis.set(prefix + key, "1", "PX", Math.max(1, Math.ceil(ttlMs)), "NX");
      return reply === "OK";
    },
    async forget(key) {
      await redis.del(prefix + key);
    },
  };
}
