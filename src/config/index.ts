export {
  type ConfigDefinition,
  type ConfigFromObject,
  type ConfigFromShape,
  type ConfigProblem,
  type DefineConfigOptions,
  defineConfig,
  type EnvSource,
  isConfigDefinition,
  type LoadOverrides,
  type SafeLoadResult,
  type VariableInfo,
} from "./define.js";
export { type DotenvProblem, type DotenvResult, dotenvValue, parseDotenv } from "./dotenv.js";
export { type LoadConfigOrExitOptions, loadConfigOrExit } from "./exit.js";
export type { RuleName } from "./rules.js";
export {
  describeVar,
  isSecretName,
  notSecret,
  type PublicMarked,
  Secret,
  type SecretMarked,
  type SecretMeta,
  secret,
  type VariableMeta,
} from "./secret.js";
export type {
  InferOutput,
  StandardSchemaV1,
  StandardSchemaV1Issue,
  StandardSchemaV1Result,
} from "./standard-schema.js";
export { formatProblems } from "./table.js";
