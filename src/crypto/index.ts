export { type BlindIndex, type BlindIndexOptions, blindIndex } from "./blind-index.js";
export { type DeriveKeyOptions, deriveKey } from "./derive.js";
export { generateKey, type KeyInput } from "./key.js";
export { type Keyring, type KeyringKey, type KeyringOptions, keyring, type SealOptions } from "./keyring.js";
export {
  type ReencryptProgress,
  type ReencryptResult,
  type ReencryptTableOptions,
  reencryptProgress,
  reencryptTable,
  type SqlClient,
  type StoredValueLocation,
} from "./reencrypt.js";
