export {
  type CspDirectives,
  type CspOptions,
  type CspPolicyOptions,
  DEFAULT_DIRECTIVES,
} from "./csp.js";
export { type SecureHeadersOptions, secureHeaders } from "./headers.js";
export { cspHash, cspNonce } from "./nonce.js";
export { DEFAULT_PERMISSIONS_POLICY, type PermissionsPolicy } from "./permissions-policy.js";
