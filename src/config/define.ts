import { BulwarkError } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { checkKeys, configError, describe, integer, oneOf } from "../core/options.js";
import { dotenvValue } from "./dotenv.js";
import { checkRules, type RuleName, type RuleSettings } from "./rules.js";
import {
  deepFreeze,
  type IsSecretName,
  isSecretName,
  metaOf,
  type PublicMarked,
  Secret,
  type SecretMarked,
} from "./secret.js";
import {
  type InferOutput,
  isStandardSchema,
  type StandardSchemaV1,
  type StandardSchemaV1Issue,
  type StandardSchemaV1Result,
  segmentKey,
} from "./standard-schema.js";
import { formatProblems } from "./table.js";
import { describeReceived, scrub } from "./values.js";

const WHERE = "defineConfig";
const DEFINITION = Symbol.for("bulwark.config.definition");

/** The environment to validate: `process.env` or any record of strings. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/** One thing wrong with the environment. Never contains a secret's value. */
export interface ConfigProblem {
  /** Variable name, or `(config)` for a rule of the whole object schema. */
  readonly variable: string;
  /** What was expected: the validator's message or the rule's requirement. */
  readonly expected: string;
  /** What kind of value came: `missing`, `empty`, `a 12-character value (hidden)` or a quoted non-secret value. */
  readonly received: string;
  /** `schema` for a validation issue, else the deployment rule that failed. */
  readonly rule: "schema" | RuleName;
}

export interface DefineConfigOptions {
  /**
   * When the production rules apply: `"auto"` (default) when `NODE_ENV=production` in the environment
   * being validated; `"always"` for staging-like environments that must meet the same bar.
   */
  productionRules?: "auto" | "always";
  /** An empty variable (`FOO=`) counts as missing. Default true, so `SECRET=` never passes as a secret. */
  emptyAsMissing?: boolean;
  /** Minimum length of a secret in production. Default 32; may only be raised. */
  minSecretLength?: number;
  /** Minimum estimated entropy of a secret in production, in bits. Default 96; may only be raised. */
  minSecretEntropyBits?: number;
  /** More variables that must hold https origins in production, besides names ending in ORIGIN(S), _URL of an app… */
  httpsVariables?: readonly string[];
  /** More variables that must hold a 32-byte key in production, besides names like ENCRYPTION_KEY. */
  encryptionKeyVariables?: readonly string[];
  /** Where the one-time warnings about weakened rules go. Default: JSON lines on stderr. */
  logger?: Logger;
}

export interface LoadOverrides {
  /** Applies the production rules whatever NODE_ENV says (used by `bulwark env check --production`). */
  productionRules?: "auto" | "always";
}

/** What `.env.example` and tools know about one variable. */
export interface VariableInfo {
  readonly name: string;
  readonly secret: boolean;
  readonly required: boolean;
  readonly description: string | undefined;
  readonly example: string | undefined;
  /** The default the schema fills in when the variable is missing, when it is a plain value. */
  readonly defaultValue: string | undefined;
}

export type SafeLoadResult<C> =
  | { readonly ok: true; readonly config: C; readonly production: boolean }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[]; readonly production: boolean };

/** A validated-on-demand environment schema. Create with `defineConfig`, load with `loadConfigOrExit`. */
export interface ConfigDefinition<C> {
  readonly [DEFINITION]: true;
  /** The declared variables (empty for an object schema whose fields cannot be listed). */
  readonly variables: readonly VariableInfo[];
  /** Validates `env` (default `process.env`); returns the typed, frozen config or throws ERR_ENV_INVALID. */
  load(env?: EnvSource, overrides?: LoadOverrides): C;
  /** Validates `env` and returns every problem at once instead of throwing. */
  safeLoad(env?: EnvSource, overrides?: LoadOverrides): SafeLoadResult<C>;
  /** The contents of a `.env.example` file for this schema. */
  example(): string;
}

type Prettify<T> = { [K in keyof T]: T[K] } & {};

/** Recursively readonly, leaving `Secret` and byte arrays as they are. */
export type DeepReadonly<T> = T extends Secret<unknown> | ArrayBufferView | ((...args: never[]) => unknown)
  ? T
  : T extends ReadonlyArray<infer E>
    ? ReadonlyArray<DeepReadonly<E>>
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

type Wrapped<O> = Secret<Exclude<O, undefined | null>> | Extract<O, undefined | null>;

/** The config type of one variable: `Secret<…>` when marked or named secret, unless marked `notSecret`. */
export type FieldValue<K, S, O> =
  S extends PublicMarked<unknown>
    ? O
    : S extends SecretMarked<unknown>
      ? Wrapped<O>
      : IsSecretName<K> extends true
        ? Wrapped<O>
        : O;

type OutputOf<S> = S extends StandardSchemaV1 ? InferOutput<S> : never;

/** Config type of a record of per-variable schemas. */
export type ConfigFromShape<Shape> = Prettify<{
  readonly [K in keyof Shape]: DeepReadonly<FieldValue<K, Shape[K], OutputOf<Shape[K]>>>;
}>;

type ShapeField<S, K> = S extends { shape: infer Sh } ? (K extends keyof Sh ? Sh[K] : unknown) : unknown;

/** Config type of one object schema (`z.object({...})`). */
export type ConfigFromObject<S extends StandardSchemaV1> = Prettify<{
  readonly [K in keyof InferOutput<S>]: DeepReadonly<FieldValue<K, ShapeField<S, K>, InferOutput<S>[K]>>;
}>;

interface Field {
  name: string;
  schema: StandardSchemaV1 | undefined;
}

interface Settings extends RuleSettings {
  productionRules: "auto" | "always";
  emptyAsMissing: boolean;
  logger: Logger;
}

function validateSync(
  name: string,
  schema: StandardSchemaV1,
  value: unknown,
): StandardSchemaV1Result<unknown> {
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) {
    result.catch(() => {});
    throw configError(
      WHERE,
      `the schema of ${name} validates asynchronously; environment schemas must be synchronous`,
    );
  }
  return result;
}

function stringList(key: string, value: unknown): ReadonlySet<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string" && v.length > 0)) {
    throw configError(WHERE, `"${key}" must be an array of variable names, got ${describe(value)}`);
  }
  return new Set(value);
}

function resolveOptions(options: unknown): Settings {
  const opts = checkKeys(WHERE, options, [
    "productionRules",
    "emptyAsMissing",
    "minSecretLength",
    "minSecretEntropyBits",
    "httpsVariables",
    "encryptionKeyVariables",
    "logger",
  ]);
  const logger = opts.logger as Logger | undefined;
  if (
    logger !== undefined &&
    (typeof logger !== "object" || logger === null || typeof logger.warn !== "function")
  ) {
    throw configError(WHERE, `"logger" must have a warn(obj, msg) method, got ${describe(logger)}`);
  }
  if (opts.emptyAsMissing !== undefined && typeof opts.emptyAsMissing !== "boolean") {
    throw configError(WHERE, `"emptyAsMissing" must be a boolean, got ${describe(opts.emptyAsMissing)}`);
  }
  return {
    production: false,
    productionRules: oneOf(WHERE, "productionRules", opts.productionRules, ["auto", "always"], "auto"),
    emptyAsMissing: opts.emptyAsMissing ?? true,
    minSecretLength: integer(WHERE, "minSecretLength", opts.minSecretLength, 32, { min: 32, max: 4096 }),
    minSecretEntropyBits: integer(WHERE, "minSecretEntropyBits", opts.minSecretEntropyBits, 96, {
      min: 96,
      max: 8192,
    }),
    httpsVariables: stringList("httpsVariables", opts.httpsVariables),
    encryptionKeyVariables: stringList("encryptionKeyVariables", opts.encryptionKeyVariables),
    logger: logger ?? consoleLogger,
  };
}

/** The per-variable schemas of an object schema, when the library exposes them (zod `shape`, valibot `entries`). */
function objectFields(schema: StandardSchemaV1): Record<string, unknown> | undefined {
  for (const key of ["shape", "entries"]) {
    const fields = (schema as unknown as Record<string, unknown>)[key];
    if (typeof fields === "object" && fields !== null && Object.values(fields).every(isStandardSchema)) {
      return fields as Record<string, unknown>;
    }
  }
  return undefined;
}

function describedBy(schema: unknown): { description?: string; example?: string } {
  const meta = metaOf(schema);
  let description = meta?.description;
  let example = meta?.example;
  if (typeof schema === "object" && schema !== null) {
    const s = schema as { description?: unknown; meta?: unknown };
    if (description === undefined && typeof s.description === "string") description = s.description;
    if (
      example === undefined &&
      isStandardSchema(schema) &&
      schema["~standard"].vendor === "zod" &&
      typeof s.meta === "function"
    ) {
      const zodMeta = (s.meta as () => unknown)() as { example?: unknown; examples?: unknown } | undefined;
      if (typeof zodMeta?.example === "string") example = zodMeta.example;
    }
  }
  return { description, example };
}

function isSecretField(field: Field): boolean {
  return metaOf(field.schema)?.secret ?? isSecretName(field.name);
}

function issueMessages(issues: readonly StandardSchemaV1Issue[]): string {
  return [...new Set(issues.map((issue) => issue.message))].join("; ");
}

/**
 * Declares the environment an application needs. `schema` is either a record of Standard Schemas, one
 * per variable (`{ PORT: z.coerce.number(), SESSION_SECRET: secret(z.string()) }`), or one object
 * schema (`z.object({...})`, valibot `v.object`, arktype `type({...})`). Nothing is validated until
 * `load`/`safeLoad`/`loadConfigOrExit`, so a module can export the definition for `bulwark env`.
 */
export function defineConfig<const S extends StandardSchemaV1<unknown, Record<string, unknown>>>(
  schema: S,
  options?: DefineConfigOptions,
): ConfigDefinition<ConfigFromObject<S>>;
export function defineConfig<const Shape extends Record<string, StandardSchemaV1>>(
  schema: Shape,
  options?: DefineConfigOptions,
): ConfigDefinition<ConfigFromShape<Shape>>;
export function defineConfig(schema: unknown, options: DefineConfigOptions = {}): ConfigDefinition<unknown> {
  const settings = resolveOptions(options);
  let objectSchema: StandardSchemaV1 | undefined;
  let fields: Field[];
  if (isStandardSchema(schema)) {
    objectSchema = schema;
    const shape = objectFields(schema);
    fields = Object.entries(shape ?? {}).map(([name, s]) => ({ name, schema: s as StandardSchemaV1 }));
  } else {
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
      throw configError(WHERE, `expected a record of schemas or an object schema, got ${describe(schema)}`);
    }
    fields = Object.entries(schema).map(([name, s]) => {
      if (!isStandardSchema(s)) {
        throw configError(
          WHERE,
          `the schema of ${name} is not a Standard Schema (zod, valibot, arktype…), got ${describe(s)}`,
        );
      }
      return { name, schema: s };
    });
    if (fields.length === 0) throw configError(WHERE, "the schema declares no variables");
  }
  const declared = new Map(fields.map((f) => [f.name, f]));
  for (const field of fields) {
    if (metaOf(field.schema)?.dangerouslyAllowWeakSecret === true) {
      settings.logger.warn(
        { variable: field.name, rule: "secret-strength" },
        "bulwark/config: dangerouslyAllowWeakSecret turns off the production strength rule for this secret",
      );
    }
  }
  const fieldOf = (name: string): Field => declared.get(name) ?? { name, schema: undefined };

  function safeLoad(env: EnvSource = process.env, overrides: LoadOverrides = {}): SafeLoadResult<unknown> {
    const mode = overrides.productionRules ?? settings.productionRules;
    const production = mode === "always" || env.NODE_ENV?.trim() === "production";
    const rules: RuleSettings = { ...settings, production };
    const problems: ConfigProblem[] = [];
    const input = (name: string): string | undefined => {
      const raw = env[name];
      return raw === "" && settings.emptyAsMissing ? undefined : raw;
    };
    const received = (name: string, secret: boolean): string => {
      const raw = env[name];
      return raw === "" && settings.emptyAsMissing
        ? "empty (counts as missing)"
        : describeReceived(raw, secret);
    };
    const schemaProblem = (name: string, secret: boolean, issues: readonly StandardSchemaV1Issue[]) => {
      problems.push({
        variable: name,
        expected: scrub(issueMessages(issues), env[name], secret),
        received: received(name, secret),
        rule: "schema",
      });
    };
    const output: Record<string, unknown> = {};
    const names: string[] = [];

    if (objectSchema) {
      const source: Record<string, string> = {};
      for (const [name, raw] of Object.entries(env)) {
        if (typeof raw === "string" && !(raw === "" && settings.emptyAsMissing)) source[name] = raw;
      }
      const result = validateSync("the object schema", objectSchema, source);
      if (result.issues) {
        const byVariable = new Map<string, StandardSchemaV1Issue[]>();
        for (const issue of result.issues) {
          const first = issue.path?.[0];
          const name = first === undefined ? "(config)" : String(segmentKey(first));
          byVariable.set(name, [...(byVariable.get(name) ?? []), issue]);
        }
        for (const [name, issues] of byVariable) {
          if (name === "(config)") {
            problems.push({
              variable: name,
              expected: scrubAll(issueMessages(issues), env),
              received: "—",
              rule: "schema",
            });
          } else schemaProblem(name, isSecretField(fieldOf(name)), issues);
        }
      } else if (typeof result.value === "object" && result.value !== null) {
        Object.assign(output, result.value);
      }
      names.push(...new Set([...declared.keys(), ...Object.keys(output)]));
    } else {
      for (const field of fields) {
        const result = validateSync(field.name, field.schema!, input(field.name));
        if (result.issues) schemaProblem(field.name, isSecretField(field), result.issues);
        else output[field.name] = result.value;
        names.push(field.name);
      }
    }

    for (const name of names) {
      const raw = input(name);
      if (raw === undefined) continue;
      const secret = isSecretField(fieldOf(name));
      const weakAllowed = metaOf(fieldOf(name).schema)?.dangerouslyAllowWeakSecret === true;
      for (const violation of checkRules(name, raw, secret, rules, weakAllowed)) {
        problems.push({
          variable: name,
          expected: violation.expected,
          received: received(name, secret),
          rule: violation.rule,
        });
      }
    }

    if (problems.length > 0) {
      const order = (variable: string) => {
        const index = names.indexOf(variable);
        return index === -1 ? names.length : index;
      };
      problems.sort((a, b) => order(a.variable) - order(b.variable));
      return Object.freeze({ ok: false, problems: deepFreeze(problems), production });
    }
    const config: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(output)) {
      config[name] =
        isSecretField(fieldOf(name)) && value !== undefined && value !== null ? new Secret(value) : value;
    }
    return Object.freeze({ ok: true, config: deepFreeze(config), production });
  }

  function load(env?: EnvSource, overrides?: LoadOverrides): unknown {
    const result = safeLoad(env, overrides);
    if (result.ok) return result.config;
    throw new BulwarkError("ERR_ENV_INVALID", formatProblems(result.problems, result.production), {
      status: 500,
      details: { problems: result.problems, production: result.production },
    });
  }

  let variables: readonly VariableInfo[] | undefined;
  const listVariables = (): readonly VariableInfo[] => {
    variables ??= deepFreeze(
      fields.map((field): VariableInfo => {
        const secret = isSecretField(field);
        const missing = validateSync(field.name, field.schema!, undefined);
        const fallback = missing.issues ? undefined : missing.value;
        const { description, example } = describedBy(field.schema);
        return {
          name: field.name,
          secret,
          required: missing.issues !== undefined,
          description,
          example: secret ? undefined : example,
          defaultValue:
            !secret &&
            (typeof fallback === "string" || typeof fallback === "number" || typeof fallback === "boolean")
              ? String(fallback)
              : undefined,
        };
      }),
    );
    return variables;
  };

  return Object.freeze({
    [DEFINITION]: true as const,
    get variables() {
      return listVariables();
    },
    load,
    safeLoad,
    example: () => {
      if (fields.length === 0) {
        throw configError(
          WHERE,
          "this object schema does not expose its fields (zod .shape / valibot .entries); pass a record of per-variable schemas to generate .env.example",
        );
      }
      return renderExample(listVariables());
    },
  });
}

/** In `(config)`-level messages no variable is known, so every secret-named value is scrubbed. */
function scrubAll(message: string, env: EnvSource): string {
  let out = message;
  for (const [name, raw] of Object.entries(env)) {
    if (raw !== undefined && isSecretName(name)) out = scrub(out, raw, true);
  }
  return scrub(out, undefined, false);
}

/** True when `value` is a definition made by `defineConfig` (from any copy of bulwark). */
export function isConfigDefinition(value: unknown): value is ConfigDefinition<unknown> {
  return (
    typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[DEFINITION] === true
  );
}

function renderExample(variables: readonly VariableInfo[]): string {
  const lines = [
    "# Generated by `bulwark env example` from the config schema. Commit this file; never put real secrets in it.",
    "",
  ];
  for (const v of variables) {
    const notes = [v.secret ? "secret" : undefined, v.required ? "required" : "optional"];
    if (v.defaultValue !== undefined) notes.push(`default: ${v.defaultValue}`);
    if (v.description) lines.push(`# ${v.description.replace(/\s*\n\s*/g, " ")}`);
    lines.push(`# (${notes.filter(Boolean).join(", ")})`);
    if (v.secret && !/(?:URL|URI|DSN)$/i.test(v.name)) lines.push("# generate with: openssl rand -base64 32");
    const value = dotenvValue(v.secret ? "" : (v.example ?? v.defaultValue ?? ""));
    if (value === undefined) lines.push("# (the example value cannot be written in dotenv syntax)");
    lines.push(`${v.name}=${value ?? ""}`, "");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}
