import type {
  AuthStore,
  CreateFamilyInput,
  OneTimeTokenRecord,
  RevokeReason,
  RotateInput,
  RotateOutcome,
  SessionRecord,
} from "./store.js";

/**
 * An in-process AuthStore for tests and development. Every method runs to completion without an
 * await in between, so each is atomic under Node's single thread. State is lost on restart and not
 * shared between processes: use `postgresAuthStore` (bulwark/postgres) in production.
 */

interface Family {
  familyId: string;
  accountId: string;
  createdAtMs: number;
  lastUsedAtMs: number;
  expiresAtMs: number;
  revokedAtMs: number | undefined;
  revokedReason: RevokeReason | undefined;
  userAgent: string | undefined;
  ip: string | undefined;
  /** Digest of the current (unrotated) token, if any. */
  current: string | undefined;
}

interface TokenRow {
  familyId: string;
  expiresAtMs: number;
  rotatedAtMs: number | undefined;
}

/** Creates an empty in-memory store for refresh-token sessions and one-time tokens. */
export function memoryAuthStore(): AuthStore {
  const families = new Map<string, Family>();
  const tokens = new Map<string, TokenRow>();
  const byAccount = new Map<string, Set<string>>();
  const oneTime = new Map<string, OneTimeTokenRecord>();

  const live = (f: Family, nowMs: number) => f.revokedAtMs === undefined && f.expiresAtMs > nowMs;

  function revoke(f: Family, nowMs: number, reason: RevokeReason): boolean {
    if (f.revokedAtMs !== undefined) return false;
    f.revokedAtMs = nowMs;
    f.revokedReason = reason;
    return true;
  }

  return {
    kind: "memory",

    async createFamily(input: CreateFamilyInput) {
      const family: Family = {
        familyId: input.familyId,
        accountId: input.accountId,
        createdAtMs: input.nowMs,
        lastUsedAtMs: input.nowMs,
        expiresAtMs: input.familyExpiresAtMs,
        revokedAtMs: undefined,
        revokedReason: undefined,
        userAgent: input.userAgent,
        ip: input.ip,
        current: input.tokenHash,
      };
      families.set(input.familyId, family);
      tokens.set(input.tokenHash, {
        familyId: input.familyId,
        expiresAtMs: input.tokenExpiresAtMs,
        rotatedAtMs: undefined,
      });
      const set = byAccount.get(input.accountId) ?? new Set<string>();
      set.add(input.familyId);
      byAccount.set(input.accountId, set);
    },

    async rotate(input: RotateInput): Promise<RotateOutcome> {
      const row = tokens.get(input.tokenHash);
      const family = row === undefined ? undefined : families.get(row.familyId);
      if (row === undefined || family === undefined) return { outcome: "unknown" };
      const ids = { accountId: family.accountId, familyId: family.familyId };
      if (family.revokedAtMs !== undefined) return { outcome: "revoked", ...ids };
      if (row.rotatedAtMs !== undefined) {
        if (input.reuseGraceMs > 0 && input.nowMs - row.rotatedAtMs <= input.reuseGraceMs)
          return { outcome: "superseded", ...ids };
        revoke(family, input.nowMs, "reuse");
        return { outcome: "reused", ...ids };
      }
      if (row.expiresAtMs <= input.nowMs || family.expiresAtMs <= input.nowMs) return { outcome: "expired" };
      row.rotatedAtMs = input.nowMs;
      const expiresAtMs = Math.min(input.nowMs + input.idleTimeoutMs, family.expiresAtMs);
      tokens.set(input.newTokenHash, { familyId: family.familyId, expiresAtMs, rotatedAtMs: undefined });
      family.current = input.newTokenHash;
      family.lastUsedAtMs = input.nowMs;
      if (input.userAgent !== undefined) family.userAgent = input.userAgent;
      if (input.ip !== undefined) family.ip = input.ip;
      return { outcome: "rotated", ...ids, expiresAtMs };
    },

    async revokeByToken(tokenHash, nowMs, reason) {
      const row = tokens.get(tokenHash);
      const family = row === undefined ? undefined : families.get(row.familyId);
      if (family === undefined || !revoke(family, nowMs, reason)) return undefined;
      return { accountId: family.accountId, familyId: family.familyId };
    },

    async revokeFamily(accountId, familyId, nowMs, reason) {
      const family = families.get(familyId);
      if (family === undefined || family.accountId !== accountId) return false;
      return revoke(family, nowMs, reason);
    },

    async revokeAccount(accountId, nowMs, reason) {
      let n = 0;
      for (const id of byAccount.get(accountId) ?? []) {
        const family = families.get(id);
        if (family !== undefined && live(family, nowMs) && revoke(family, nowMs, reason)) n++;
      }
      return n;
    },

    async listFamilies(accountId, nowMs) {
      const out: SessionRecord[] = [];
      for (const id of byAccount.get(accountId) ?? []) {
        const family = families.get(id);
        if (family === undefined || !live(family, nowMs) || family.current === undefined) continue;
        const current = tokens.get(family.current);
        if (current === undefined || current.rotatedAtMs !== undefined || current.expiresAtMs <= nowMs)
          continue;
        out.push({
          sessionId: family.familyId,
          accountId: family.accountId,
          createdAtMs: family.createdAtMs,
          lastUsedAtMs: family.lastUsedAtMs,
          expiresAtMs: current.expiresAtMs,
          userAgent: family.userAgent,
          ip: family.ip,
        });
      }
      return out.sort((a, b) => b.lastUsedAtMs - a.lastUsedAtMs);
    },

    async purge(nowMs, retainMs) {
      const cutoff = nowMs - retainMs;
      let n = 0;
      const gone = new Set<string>();
      for (const family of families.values()) {
        const ended = family.revokedAtMs !== undefined ? family.revokedAtMs : family.expiresAtMs;
        if ((family.revokedAtMs !== undefined || family.expiresAtMs <= nowMs) && ended < cutoff) {
          families.delete(family.familyId);
          byAccount.get(family.accountId)?.delete(family.familyId);
          gone.add(family.familyId);
          n++;
        }
      }
      for (const [hash, row] of tokens) {
        if (gone.has(row.familyId) || (row.rotatedAtMs !== undefined && row.expiresAtMs < cutoff)) {
          tokens.delete(hash);
          n++;
        }
      }
      return n;
    },

    async insert(record) {
      oneTime.set(record.tokenHash, { ...record });
    },

    async take(tokenHash, purpose) {
      const record = oneTime.get(tokenHash);
      if (record === undefined || record.purpose !== purpose) return undefined;
      oneTime.delete(tokenHash);
      return record;
    },

    async revokeOneTimeTokens(accountId, purpose) {
      let n = 0;
      for (const [hash, record] of oneTime) {
        if (record.accountId === accountId && (purpose === undefined || record.purpose === purpose)) {
          oneTime.delete(hash);
          n++;
        }
      }
      return n;
    },

    async purgeExpired(nowMs) {
      let n = 0;
      for (const [hash, record] of oneTime) {
        if (record.expiresAtMs <= nowMs) {
          oneTime.delete(hash);
          n++;
        }
      }
      return n;
    },
  };
}
