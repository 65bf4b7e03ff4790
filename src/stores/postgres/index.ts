export {
  type AuthMigration,
  authMigrationSql,
  authMigrations,
  type PostgresAuthStoreOptions,
  postgresAuthStore,
} from "./auth.js";
export {
  idempotencySchemaSql,
  type PostgresIdempotencyStoreOptions,
  type PostgresLedgerOptions,
  postgresIdempotencyStore,
  postgresLedger,
  processLedgerSchemaSql,
} from "./idempotency.js";
export { type PostgresStore, type PostgresStoreOptions, postgresStore, type SqlClient } from "./store.js";
export {
  type PostgresQueryable,
  type PostgresReplayStoreOptions,
  postgresReplayStore,
  webhookReplaySchemaSql,
} from "./webhooks.js";
