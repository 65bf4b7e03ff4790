export { type IdempotencyOptions, idempotency } from "./guard.js";
export { IDEMPOTENCY_KEY_MAX_LENGTH, parseIdempotencyKey } from "./key.js";
export {
  type ProcessContext,
  type ProcessOnceOptions,
  type ProcessOnceResult,
  processOnce,
} from "./process-once.js";
export type {
  BeginResult,
  ClaimResult,
  IdempotencyStore,
  LedgerRecord,
  LedgerState,
  ProcessLedger,
  StoredResponse,
} from "./types.js";
