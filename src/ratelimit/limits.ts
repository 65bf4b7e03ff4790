import { checkKeys, configError, describe, integer, oneOf } from "../core/options.js";
import type { Algorithm, LimitSpec } from "./types.js";

/** The algorithms a limit may use. */
export const ALGORITHMS: readonly Algorithm[] = ["fixed-window", "sliding-window", "token-bucket", "gcra"];

/** Most limits one check may evaluate (one round trip on Redis, one statement on Postgres). */
export const MAX_LIMITS = 8;

/** Longest window accepted: 366 days. */
export const MAX_WINDOW_MS = 366 * 24 * 60 * 60 * 1000;

/** Names appear in `RateLimit-Policy` headers and store keys, so they stay short and plain. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A limit as the user writes it. */
export interface LimitOptions {
  /** Identifies the limit in decisions, headers and store keys: letters, digits, `_`, `.`, `-` (≤ 64). */
  readonly name: string;
  /** "fixed-window", "sliding-window", "token-bucket" or "gcra". */
  readonly algorithm: Algorithm;
  /** Units admitted per window: a positive integer. */
  readonly limit: number;
  /** The window in integer milliseconds (≥ 1, ≤ 366 days). */
  readonly windowMs: number;
}

/**
 * Validates a list of limits and returns frozen copies (the caller's objects are never kept or
 * mutated). Throws `ERR_CONFIG_INVALID` naming the offending entry, with a did-you-mean for
 * unknown keys and algorithms.
 */
export function validateLimits(where: string, value: unknown): readonly LimitSpec[] {
  if (!Array.isArray(value)) {
    throw configError(where, `"limits" must be an array of limits or a function, got ${describe(value)}`);
  }
  if (value.length === 0) throw configError(where, `"limits" must contain at least one limit`);
  if (value.length > MAX_LIMITS) {
    throw configError(
      where,
      `"limits" has ${value.length} limits; at most ${MAX_LIMITS} are checked at once`,
    );
  }
  const seen = new Set<string>();
  const out: LimitSpec[] = [];
  value.forEach((entry: unknown, i) => {
    const at = `${where}: limits[${i}]`;
    const o = checkKeys(at, entry, ["name", "algorithm", "limit", "windowMs"]);
    if (typeof o.name !== "string" || !NAME.test(o.name)) {
      throw configError(
        at,
        `"name" must be 1–64 letters, digits, "_", "." or "-" (starting with a letter or digit)`,
      );
    }
    if (seen.has(o.name)) throw configError(at, `duplicate limit name "${o.name}"`);
    seen.add(o.name);
    const algorithm = oneOf(at, "algorithm", o.algorithm, ALGORITHMS, undefined);
    const limit = integer(at, "limit", o.limit, undefined, { min: 1 });
    const windowMs = integer(at, "windowMs", o.windowMs, undefined, { min: 1, max: MAX_WINDOW_MS });
    if (limit * windowMs > Number.MAX_SAFE_INTEGER) {
      throw configError(at, `"limit" × "windowMs" must stay below 2^53 for exact arithmetic`);
    }
    out.push(Object.freeze({ name: o.name, algorithm, limit, windowMs }));
  });
  return Object.freeze(out);
}
