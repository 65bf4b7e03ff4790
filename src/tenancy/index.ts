export { inTransaction, type SqlDatabase, type SqlQueryable } from "./db.js";
export {
  assertTenantIsolation,
  type TenantIsolationOptions,
  type TenantIsolationReport,
} from "./guard.js";
export { enableTenantRls, type TenantRlsOptions, tenantRlsSql } from "./rls.js";
export {
  isTenantId,
  TENANT_SETTING,
  type TenantTransaction,
  type WithTenantOptions,
  withTenant,
} from "./tenant.js";
