import type { LimitSpec } from "../../ratelimit/types.js";
import type { StoredState } from "../reference-store.js";
import type { SqlClient } from "./store.js";

const ALGORITHM_NAME: Record<string, string> = {
  f: "fixed-window",
  s: "sliding-window",
  t: "token-bucket",
  g: "gcra",
};

/** Reads the row the store wrote for one limit of a key (expired or not); for tests. */
export async function storedState(
  pool: SqlClient,
  schema: string,
  key: string,
  spec: LimitSpec,
): Promise<StoredState | undefined> {
  const { rows } = await pool.query(
    `SELECT algorithm, window_ms, expires_at, s0, s1, s2 FROM "${schema}".rl_state WHERE key = $1 AND name = $2`,
    [key, spec.name],
  );
  const row = rows[0] as
    | {
        algorithm: string;
        window_ms: number;
        expires_at: number;
        s0: number;
        s1: number | null;
        s2: number | null;
      }
    | undefined;
  if (row === undefined) return undefined;
  return {
    algorithm: ALGORITHM_NAME[row.algorithm] ?? "?",
    windowMs: row.window_ms,
    expiresAt: row.expires_at,
    state: [row.s0, row.s1, row.s2].filter((v): v is number => v !== null),
  };
}
