import { timingSafeEqual } from "../core/compare.js";

const INSPECT = Symbol.for("nodejs.util.inspect.custom");
const REDACTED = "[redacted]";

/**
 * Freezes objects and arrays all the way down; returns the same value. Typed arrays cannot be frozen
 * by JavaScript and are left as they are.
 */
export function deepFreeze<T>(value: T): T {
  if (
    typeof value === "object" &&
    value !== null &&
    !(value instanceof Secret) &&
    !ArrayBuffer.isView(value) &&
    !Object.isFrozen(value)
  ) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

/**
 * A configuration value that must not be printed. `console.log`, `util.inspect`, `JSON.stringify`,
 * `String()`, template literals and string concatenation all show `[redacted]`; `reveal()` is the one
 * way to read it, so every use of the secret is explicit and easy to find in review.
 */
export class Secret<T = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = deepFreeze(value);
    Object.freeze(this);
  }

  /** The secret value itself. Pass it straight to the API that needs it; never log it. */
  reveal(): T {
    return this.#value;
  }

  /** Constant-time comparison with a candidate (for API tokens and the like); false unless a string. */
  equals(candidate: string): boolean {
    return (
      typeof this.#value === "string" &&
      typeof candidate === "string" &&
      timingSafeEqual(candidate, this.#value)
    );
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [INSPECT](): string {
    return `Secret(${REDACTED})`;
  }
}

/** Substrings (of the upper-cased name) that make a variable secret by name. */
export const SECRET_NAME_PARTS = [
  "SECRET",
  "PASSWORD",
  "PASSWD",
  "TOKEN",
  "PRIVATE",
  "CREDENTIAL",
  "APIKEY",
  "API_KEY",
  "SALT",
  "PEPPER",
  "DATABASE_URL",
  "REDIS_URL",
  "MONGODB_URI",
] as const;
/** Endings (of the upper-cased name) that make a variable secret by name. */
export const SECRET_NAME_SUFFIXES = ["_KEY", "_PASS", "_PWD", "_DSN"] as const;
/** Whole names that are secret. */
export const SECRET_NAMES = ["KEY", "PASS", "DSN"] as const;

type SecretNamePattern =
  | `${string}${(typeof SECRET_NAME_PARTS)[number]}${string}`
  | `${string}${(typeof SECRET_NAME_SUFFIXES)[number]}`
  | (typeof SECRET_NAMES)[number];

/** `true` when a variable name is secret by the name rules (case-insensitive), else `false`. */
export type IsSecretName<K> = K extends string
  ? Uppercase<K> extends SecretNamePattern
    ? true
    : false
  : false;

/** Runtime twin of `IsSecretName`; both read the same three lists. */
export function isSecretName(name: string): boolean {
  const upper = name.toUpperCase();
  return (
    SECRET_NAME_PARTS.some((part) => upper.includes(part)) ||
    SECRET_NAME_SUFFIXES.some((suffix) => upper.endsWith(suffix)) ||
    (SECRET_NAMES as readonly string[]).includes(upper)
  );
}

declare const SECRET_BRAND: unique symbol;
declare const PUBLIC_BRAND: unique symbol;

/** A schema marked secret by `secret()`; its config value is a `Secret`. */
export type SecretMarked<S> = S & { readonly [SECRET_BRAND]: true };
/** A schema marked not secret by `notSecret()`; its config value is plain even if the name looks secret. */
export type PublicMarked<S> = S & { readonly [PUBLIC_BRAND]: true };

/** What a schema can carry besides validation: documentation for `.env.example`, and secrecy. */
export interface VariableMeta {
  /** One line for `.env.example` and error tables. */
  description?: string;
  /** A sample value written to `.env.example` (never for a secret). */
  example?: string;
}

export interface SecretMeta extends VariableMeta {
  /**
   * Skips the production strength rule for this secret, for a credential you do not choose (a
   * provider's 16-character SMTP password). Weakens a default: logged once as a warning. Default false.
   */
  dangerouslyAllowWeakSecret?: boolean;
}

interface StoredMeta extends SecretMeta {
  secret?: boolean;
}

const registry = new WeakMap<object, StoredMeta>();

function remember(schema: object, meta: StoredMeta): void {
  registry.set(schema, { ...registry.get(schema), ...meta });
}

/** Metadata registered for a schema object by `secret`, `notSecret` or `describeVar`. */
export function metaOf(schema: unknown): StoredMeta | undefined {
  return typeof schema === "object" || typeof schema === "function"
    ? registry.get(schema as object)
    : undefined;
}

/**
 * Marks a variable's schema as secret: its value is redacted everywhere (error tables, logs, JSON) and
 * wrapped in `Secret`, and the production strength rules apply. Returns the same schema object, so it
 * works inside `z.object({...})` too. Wrap the outermost schema (`secret(z.string().min(32))`).
 */
export function secret<S extends object>(schema: S, meta: SecretMeta = {}): SecretMarked<S> {
  remember(schema, { ...meta, secret: true });
  return schema as SecretMarked<S>;
}

/** Marks a variable as not secret although its name matches a secret pattern (e.g. `STRIPE_PUBLISHABLE_KEY`). */
export function notSecret<S extends object>(schema: S, meta: VariableMeta = {}): PublicMarked<S> {
  remember(schema, { ...meta, secret: false });
  return schema as PublicMarked<S>;
}

/** Attaches a description and example for `.env.example` without changing secrecy. */
export function describeVar<S extends object>(schema: S, meta: VariableMeta): S {
  remember(schema, meta);
  return schema;
}
