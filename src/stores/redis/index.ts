export { type RedisOneTimeTokenStoreOptions, redisOneTimeTokenStore } from "./auth.js";
export {
  type RedisIdempotencyStoreOptions,
  type RedisLedgerOptions,
  redisIdempotencyStore,
  redisLedger,
} from "./idempotency.js";
export { MAX_LIMITS_PER_CHECK, type RedisStore, type RedisStoreOptions, redisStore } from "./store.js";
export { type RedisReplayStoreOptions, redisReplayStore } from "./webhooks.js";
