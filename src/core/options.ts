import { BulwarkError } from "./errors.js";

/**
 * Small, dependency-free validators for factory options. Every factory resolves its options once,
 * never mutates the caller's object, and throws `ERR_CONFIG_INVALID` with a precise message
 * (including a "did you mean" hint for unknown keys) at construction — never per request.
 */

export function configError(where: string, message: string): BulwarkError {
  return new BulwarkError("ERR_CONFIG_INVALID", `${where}: ${message}`, { status: 500 });
}

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/** The closest known name to `name`, when it is close enough to be a likely typo. */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const score = distance(name.toLowerCase(), candidate.toLowerCase());
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Throws when `value` is not a plain object or has keys outside `known`. */
export function checkKeys(where: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw configError(where, `expected an options object, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const hint = didYouMean(key, known);
      throw configError(where, `unknown option "${key}"${hint ? ` — did you mean "${hint}"?` : ""}`);
    }
  }
  return value as Record<string, unknown>;
}

/** A short, non-secret description of a value's kind (never the value itself). */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

export interface IntegerRule {
  min?: number;
  max?: number;
}

/** Reads an integer option; `fallback` when undefined. */
export function integer(
  where: string,
  key: string,
  value: unknown,
  fallback: number | undefined,
  rule: IntegerRule = {},
): number {
  if (value === undefined) {
    if (fallback === undefined) throw configError(where, `"${key}" is required`);
    return fallback;
  }
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw configError(where, `"${key}" must be an integer, got ${describe(value)}`);
  }
  if (rule.min !== undefined && value < rule.min)
    throw configError(where, `"${key}" must be ≥ ${rule.min}, got ${value}`);
  if (rule.max !== undefined && value > rule.max)
    throw configError(where, `"${key}" must be ≤ ${rule.max}, got ${value}`);
  return value;
}

/** Reads an enumerated string option; `fallback` when undefined. */
export function oneOf<T extends string>(
  where: string,
  key: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T | undefined,
): T {
  if (value === undefined) {
    if (fallback === undefined) throw configError(where, `"${key}" is required`);
    return fallback;
  }
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    const hint = typeof value === "string" ? didYouMean(value, allowed) : undefined;
    throw configError(
      where,
      `"${key}" must be one of ${allowed.map((a) => `"${a}"`).join(", ")}${hint ? ` — did you mean "${hint}"?` : ""}`,
    );
  }
  return value as T;
}

/** Reads a boolean option; `fallback` when undefined. */
export function boolean(where: string, key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean")
    throw configError(where, `"${key}" must be a boolean, got ${describe(value)}`);
  return value;
}

/** Reads a non-empty string option; `fallback` when undefined. */
export function string(where: string, key: string, value: unknown, fallback: string | undefined): string {
  if (value === undefined) {
    if (fallback === undefined) throw configError(where, `"${key}" is required`);
    return fallback;
  }
  if (typeof value !== "string" || value.length === 0) {
    throw configError(where, `"${key}" must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/** Reads a function option; `fallback` when undefined. */
export function fn<T extends (...args: never[]) => unknown>(
  where: string,
  key: string,
  value: unknown,
  fallback: T | undefined,
): T | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== "function")
    throw configError(where, `"${key}" must be a function, got ${describe(value)}`);
  return value as T;
}
