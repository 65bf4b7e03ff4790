import type {
  AuthStore,
  OneTimeTokenRecord,
  RevokeReason,
  RotateOutcome,
  SessionRecord,
} from "../../auth/store.js";
import { checkKeys, configError } from "../../core/options.js";
import { inTransaction, quoteName, type SqlQueryable, sqlDatabase } from "../../tenancy/db.js";

/**
 * Refresh-token sessions and one-time tokens on PostgreSQL or PGlite. Tokens are stored only as
 * SHA-256 digests (bytea). A rotation is one statement — `UPDATE … SET rotated_at WHERE rotated_at
 * IS NULL` chained to the successor's INSERT — so of two concurrent rotations the second blocks on
 * the row lock, re-reads the row after the first commits, matches nothing and is classified (and,
 * being a reuse, revokes the family). A one-time token is consumed by `DELETE … RETURNING`: one winner.
 *
 * Tables are created by `migrate()` (idempotent, versioned, serialised by an advisory lock), or by
 * running `authMigrationSql()` with your own migration tool.
 */

export interface PostgresAuthStoreOptions {
  /** A pg Pool/Client or a PGlite instance. A Pool lets concurrent rotations really run concurrently. */
  client: SqlQueryable;
  /** Schema holding the tables (default: none, i.e. the search_path). Created by migrate() when set. */
  schema?: string;
}

export interface AuthMigration {
  readonly version: number;
  readonly name: string;
  /** Statements, run in order inside one transaction. */
  readonly statements: readonly string[];
}

interface Tables {
  migrations: string;
  families: string;
  tokens: string;
  oneTime: string;
  prefix: string;
}

function tables(where: string, schema: unknown): Tables {
  if (schema !== undefined) quoteName(where, schema, "schema");
  const q = (name: string) => (schema === undefined ? name : `${quoteName(where, schema, "schema")}.${name}`);
  return {
    migrations: q("bulwark_auth_migrations"),
    families: q("bulwark_refresh_families"),
    tokens: q("bulwark_refresh_tokens"),
    oneTime: q("bulwark_one_time_tokens"),
    prefix: schema === undefined ? "" : `${schema}.`,
  };
}

function migrations(t: Tables): AuthMigration[] {
  return [
    {
      version: 1,
      name: "refresh token families, refresh tokens, one-time tokens",
      statements: [
        `CREATE TABLE IF NOT EXISTS ${t.families} (
  family_id uuid PRIMARY KEY,
  account_id text NOT NULL,
  created_at timestamptz NOT NULL,
  last_used_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_reason text,
  user_agent text,
  ip text
)`,
        `CREATE INDEX IF NOT EXISTS bulwark_refresh_families_account_idx ON ${t.families} (account_id) WHERE revoked_at IS NULL`,
        `CREATE INDEX IF NOT EXISTS bulwark_refresh_families_expires_idx ON ${t.families} (expires_at)`,
        `CREATE TABLE IF NOT EXISTS ${t.tokens} (
  token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  family_id uuid NOT NULL REFERENCES ${t.families} (family_id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz
)`,
        `CREATE INDEX IF NOT EXISTS bulwark_refresh_tokens_family_idx ON ${t.tokens} (family_id)`,
        `CREATE INDEX IF NOT EXISTS bulwark_refresh_tokens_expires_idx ON ${t.tokens} (expires_at) WHERE rotated_at IS NOT NULL`,
        `CREATE TABLE IF NOT EXISTS ${t.oneTime} (
  token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  purpose text NOT NULL,
  account_id text NOT NULL,
  epoch text NOT NULL,
  data text,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
)`,
        `CREATE INDEX IF NOT EXISTS bulwark_one_time_tokens_account_idx ON ${t.oneTime} (account_id, purpose)`,
        `CREATE INDEX IF NOT EXISTS bulwark_one_time_tokens_expires_idx ON ${t.oneTime} (expires_at)`,
      ],
    },
  ];
}

/** The migrations shipped with the package (for your own migration tool), in order. */
export function authMigrations(options: { schema?: string } = {}): readonly AuthMigration[] {
  return migrations(tables("authMigrations", options.schema));
}

/** Every migration as one SQL script (statements separated by ";\n"). */
export function authMigrationSql(options: { schema?: string } = {}): string {
  return authMigrations(options)
    .flatMap((m) => m.statements)
    .map((s) => `${s};`)
    .join("\n");
}

const TS = (n: number) => `to_timestamp($${n}::float8 / 1000)`;
const MS = (column: string) => `round(extract(epoch FROM ${column}) * 1000)::float8`;

interface RotatedRow {
  account_id: string;
  family_id: string;
  expires_at_ms: number;
}

interface ClassifyRow {
  account_id: string;
  family_id: string;
  rotated_at_ms: number | null;
  expired: boolean;
  revoked: boolean;
}

interface SessionRow {
  family_id: string;
  account_id: string;
  created_at_ms: number;
  last_used_at_ms: number;
  expires_at_ms: number;
  user_agent: string | null;
  ip: string | null;
}

interface OneTimeRow {
  account_id: string;
  purpose: string;
  epoch: string;
  data: string | null;
  created_at_ms: number;
  expires_at_ms: number;
}

const HEX_RE = /^[0-9a-f]{64}$/;
function digest(hex: string): string {
  if (!HEX_RE.test(hex))
    throw configError("postgresAuthStore", "token digests must be 64 lower-case hex characters");
  return hex;
}

/** Creates the store. Call `migrate()` once at start (safe to call from every instance). */
export function postgresAuthStore(options: PostgresAuthStoreOptions): AuthStore & {
  migrate(): Promise<void>;
} {
  const where = "postgresAuthStore";
  const o = checkKeys(where, options, ["client", "schema"]);
  const db = sqlDatabase(where, o.client, "client");
  const t = tables(where, o.schema);
  const schemaName = o.schema as string | undefined;

  const rotateSql = `WITH old AS (
  UPDATE ${t.tokens} AS t SET rotated_at = ${TS(3)}
  FROM ${t.families} AS f
  WHERE t.token_hash = decode($1, 'hex') AND t.rotated_at IS NULL AND t.expires_at > ${TS(3)}
    AND f.family_id = t.family_id AND f.revoked_at IS NULL AND f.expires_at > ${TS(3)}
  RETURNING t.family_id, f.account_id, f.expires_at AS family_expires_at
), touched AS (
  UPDATE ${t.families} AS f SET last_used_at = ${TS(3)},
    user_agent = coalesce($5, f.user_agent), ip = coalesce($6, f.ip)
  FROM old WHERE f.family_id = old.family_id AND f.revoked_at IS NULL
  RETURNING f.family_id
), fresh AS (
  INSERT INTO ${t.tokens} (token_hash, family_id, created_at, expires_at)
  SELECT decode($2, 'hex'), old.family_id, ${TS(3)},
    least(${TS(3)} + $4::float8 * interval '1 millisecond', old.family_expires_at)
  FROM old JOIN touched USING (family_id)
  RETURNING family_id, expires_at
)
SELECT old.account_id, fresh.family_id::text AS family_id, ${MS("fresh.expires_at")} AS expires_at_ms
FROM old JOIN fresh USING (family_id)`;

  const classifySql = `SELECT f.account_id, f.family_id::text AS family_id,
  CASE WHEN t.rotated_at IS NULL THEN NULL ELSE ${MS("t.rotated_at")} END AS rotated_at_ms,
  (t.expires_at <= ${TS(2)} OR f.expires_at <= ${TS(2)}) AS expired,
  (f.revoked_at IS NOT NULL) AS revoked
FROM ${t.tokens} AS t JOIN ${t.families} AS f USING (family_id)
WHERE t.token_hash = decode($1, 'hex')`;

  const revokeFamilySql = `UPDATE ${t.families} SET revoked_at = ${TS(2)}, revoked_reason = $3
WHERE family_id = $1::uuid AND revoked_at IS NULL RETURNING 1`;

  async function rows<T>(sql: string, params: unknown[]): Promise<T[]> {
    return (await db.query(sql, params)).rows as T[];
  }

  async function rotateOnce(input: Parameters<AuthStore["rotate"]>[0]): Promise<RotateOutcome | "retry"> {
    const [rotated] = await rows<RotatedRow>(rotateSql, [
      digest(input.tokenHash),
      digest(input.newTokenHash),
      input.nowMs,
      input.idleTimeoutMs,
      input.userAgent ?? null,
      input.ip ?? null,
    ]);
    if (rotated !== undefined) {
      return {
        outcome: "rotated",
        accountId: rotated.account_id,
        familyId: rotated.family_id,
        expiresAtMs: Number(rotated.expires_at_ms),
      };
    }
    const [row] = await rows<ClassifyRow>(classifySql, [input.tokenHash, input.nowMs]);
    if (row === undefined) return { outcome: "unknown" };
    const ids = { accountId: row.account_id, familyId: row.family_id };
    if (row.revoked) return { outcome: "revoked", ...ids };
    if (row.rotated_at_ms !== null) {
      if (input.reuseGraceMs > 0 && input.nowMs - Number(row.rotated_at_ms) <= input.reuseGraceMs)
        return { outcome: "superseded", ...ids };
      await db.query(revokeFamilySql, [row.family_id, input.nowMs, "reuse"]);
      return { outcome: "reused", ...ids };
    }
    if (row.expired) return { outcome: "expired" };
    // Live, unrotated and unrevoked, yet the rotation matched nothing: a concurrent transaction held
    // the row and rolled back. Try again.
    return "retry";
  }

  return {
    kind: "postgres",

    async migrate() {
      const all = migrations(t);
      await inTransaction(db, async (tx) => {
        await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`bulwark_auth_migrations:${t.prefix}`]);
        if (schemaName !== undefined)
          await tx.query(`CREATE SCHEMA IF NOT EXISTS ${quoteName(where, schemaName, "schema")}`);
        await tx.query(
          `CREATE TABLE IF NOT EXISTS ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
        );
        const applied = new Set(
          ((await tx.query(`SELECT version FROM ${t.migrations}`)).rows as Array<{ version: number }>).map(
            (r) => Number(r.version),
          ),
        );
        for (const m of all) {
          if (applied.has(m.version)) continue;
          for (const statement of m.statements) await tx.query(statement);
          await tx.query(`INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
        }
      });
    },

    async createFamily(input) {
      await inTransaction(db, async (tx) => {
        await tx.query(
          `INSERT INTO ${t.families} (family_id, account_id, created_at, last_used_at, expires_at, user_agent, ip)
VALUES ($1::uuid, $2, ${TS(3)}, ${TS(3)}, ${TS(4)}, $5, $6)`,
          [
            input.familyId,
            input.accountId,
            input.nowMs,
            input.familyExpiresAtMs,
            input.userAgent ?? null,
            input.ip ?? null,
          ],
        );
        await tx.query(
          `INSERT INTO ${t.tokens} (token_hash, family_id, created_at, expires_at) VALUES (decode($1, 'hex'), $2::uuid, ${TS(3)}, ${TS(4)})`,
          [digest(input.tokenHash), input.familyId, input.nowMs, input.tokenExpiresAtMs],
        );
      });
    },

    async rotate(input) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const result = await rotateOnce(input);
        if (result !== "retry") return result;
      }
      return { outcome: "unknown" };
    },

    async revokeByToken(tokenHash, nowMs, reason: RevokeReason) {
      const [row] = await rows<{ account_id: string; family_id: string }>(
        `UPDATE ${t.families} AS f SET revoked_at = ${TS(2)}, revoked_reason = $3
FROM ${t.tokens} AS t
WHERE t.token_hash = decode($1, 'hex') AND f.family_id = t.family_id AND f.revoked_at IS NULL
RETURNING f.account_id, f.family_id::text AS family_id`,
        [digest(tokenHash), nowMs, reason],
      );
      return row === undefined ? undefined : { accountId: row.account_id, familyId: row.family_id };
    },

    async revokeFamily(accountId, familyId, nowMs, reason) {
      const found = await rows(
        `UPDATE ${t.families} SET revoked_at = ${TS(3)}, revoked_reason = $4
WHERE family_id = $2::uuid AND account_id = $1 AND revoked_at IS NULL RETURNING 1`,
        [accountId, familyId, nowMs, reason],
      );
      return found.length === 1;
    },

    async revokeAccount(accountId, nowMs, reason) {
      const [row] = await rows<{ n: number }>(
        `WITH r AS (
  UPDATE ${t.families} SET revoked_at = ${TS(2)}, revoked_reason = $3
  WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > ${TS(2)} RETURNING 1
) SELECT count(*)::int AS n FROM r`,
        [accountId, nowMs, reason],
      );
      return Number(row?.n ?? 0);
    },

    async listFamilies(accountId, nowMs): Promise<SessionRecord[]> {
      const found = await rows<SessionRow>(
        `SELECT f.family_id::text AS family_id, f.account_id, ${MS("f.created_at")} AS created_at_ms,
  ${MS("f.last_used_at")} AS last_used_at_ms, ${MS("t.expires_at")} AS expires_at_ms, f.user_agent, f.ip
FROM ${t.families} AS f
JOIN ${t.tokens} AS t ON t.family_id = f.family_id AND t.rotated_at IS NULL AND t.expires_at > ${TS(2)}
WHERE f.account_id = $1 AND f.revoked_at IS NULL AND f.expires_at > ${TS(2)}
ORDER BY f.last_used_at DESC, f.created_at DESC`,
        [accountId, nowMs],
      );
      return found.map((r) => ({
        sessionId: r.family_id,
        accountId: r.account_id,
        createdAtMs: Number(r.created_at_ms),
        lastUsedAtMs: Number(r.last_used_at_ms),
        expiresAtMs: Number(r.expires_at_ms),
        userAgent: r.user_agent ?? undefined,
        ip: r.ip ?? undefined,
      }));
    },

    async purge(nowMs, retainMs) {
      // Two statements: rotated tokens of live families first, then ended families (their tokens
      // follow by ON DELETE CASCADE). Counts: families plus directly deleted tokens.
      const cutoff = `${TS(1)} - $2::float8 * interval '1 millisecond'`;
      const [tokensGone] = await rows<{ n: number }>(
        `WITH d AS (DELETE FROM ${t.tokens} WHERE rotated_at IS NOT NULL AND expires_at < ${cutoff} RETURNING 1)
SELECT count(*)::int AS n FROM d`,
        [nowMs, retainMs],
      );
      const [familiesGone] = await rows<{ n: number }>(
        `WITH d AS (
  DELETE FROM ${t.families} WHERE (revoked_at IS NOT NULL AND revoked_at < ${cutoff}) OR expires_at < ${cutoff}
  RETURNING 1
) SELECT count(*)::int AS n FROM d`,
        [nowMs, retainMs],
      );
      return Number(tokensGone?.n ?? 0) + Number(familiesGone?.n ?? 0);
    },

    async insert(record: OneTimeTokenRecord) {
      await db.query(
        `INSERT INTO ${t.oneTime} (token_hash, purpose, account_id, epoch, data, created_at, expires_at)
VALUES (decode($1, 'hex'), $2, $3, $4, $5, ${TS(6)}, ${TS(7)})`,
        [
          digest(record.tokenHash),
          record.purpose,
          record.accountId,
          record.epoch,
          record.data ?? null,
          record.createdAtMs,
          record.expiresAtMs,
        ],
      );
    },

    async take(tokenHash, purpose) {
      const [row] = await rows<OneTimeRow>(
        `DELETE FROM ${t.oneTime} WHERE token_hash = decode($1, 'hex') AND purpose = $2
RETURNING account_id, purpose, epoch, data, ${MS("created_at")} AS created_at_ms, ${MS("expires_at")} AS expires_at_ms`,
        [digest(tokenHash), purpose],
      );
      if (row === undefined) return undefined;
      return {
        tokenHash,
        purpose: row.purpose,
        accountId: row.account_id,
        epoch: row.epoch,
        data: row.data ?? undefined,
        createdAtMs: Number(row.created_at_ms),
        expiresAtMs: Number(row.expires_at_ms),
      };
    },

    async revokeOneTimeTokens(accountId, purpose) {
      const [row] = await rows<{ n: number }>(
        `WITH d AS (DELETE FROM ${t.oneTime} WHERE account_id = $1 AND ($2::text IS NULL OR purpose = $2) RETURNING 1)
SELECT count(*)::int AS n FROM d`,
        [accountId, purpose ?? null],
      );
      return Number(row?.n ?? 0);
    },

    async purgeExpired(nowMs) {
      const [row] = await rows<{ n: number }>(
        `WITH d AS (DELETE FROM ${t.oneTime} WHERE expires_at <= ${TS(1)} RETURNING 1) SELECT count(*)::int AS n FROM d`,
        [nowMs],
      );
      return Number(row?.n ?? 0);
    },
  };
}
