export {
  type MemoryIdempotencyStoreOptions,
  type MemoryLedgerOptions,
  memoryIdempotencyStore,
  memoryLedger,
} from "./idempotency.js";
export { type MemoryStore, type MemoryStoreOptions, memoryStore } from "./store.js";
export { type MemoryReplayStoreOptions, memoryReplayStore } from "./webhooks.js";
