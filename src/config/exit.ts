import type { ConfigDefinition, EnvSource, LoadOverrides } from "./define.js";
import { formatProblems } from "./table.js";

export interface LoadConfigOrExitOptions extends LoadOverrides {
  /** Environment to validate. Default `process.env`. */
  env?: EnvSource;
  /** Where the report goes. Default: `process.stderr`. */
  write?: (text: string) => void;
  /** How to stop. Default: `process.exit`. */
  exit?: (code: number) => never;
  /** Exit status on invalid configuration. Default 78 (EX_CONFIG from sysexits.h); must be non-zero. */
  exitCode?: number;
}

/**
 * The start guard: validates the environment and returns the typed, frozen config, or prints every
 * problem as a table to stderr and exits with a non-zero status before the application serves anything.
 */
export function loadConfigOrExit<C>(
  definition: ConfigDefinition<C>,
  options: LoadConfigOrExitOptions = {},
): C {
  const result = definition.safeLoad(options.env, { productionRules: options.productionRules });
  if (result.ok) return result.config;
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  write(`${formatProblems(result.problems, result.production)}\n`);
  const code =
    options.exitCode !== undefined && Number.isInteger(options.exitCode) && options.exitCode !== 0
      ? options.exitCode
      : 78;
  return (options.exit ?? ((c: number) => process.exit(c)))(code);
}
