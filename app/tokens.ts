import { createHash, randomBytes } from "node:crypto";

/** A new single-use token (256 random bits, base64url) and the hash stored in its place. */
export function newToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashToken(token) };
}

/**
 * What the database keeps of a token: SHA-256, so a leaked table cannot be replayed. Tokens carry
 * 256 random bits, so a fast hash is enough (no guessing to slow down).
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("base64url");
}

/** A temporary password a person can type: 4 groups of 4 from an unambiguous alphabet (~82 bits). */
export function temporaryPassword(): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
  const groups: string[] = [];
  const limit = 256 - (256 % alphabet.length); // rejection sampling: no modulo bias
  for (let g = 0; g < 4; g++) {
    let group = "";
    while (group.length < 4) {
      const b = randomBytes(1)[0] as number;
      if (b < limit) group += alphabet[b % alphabet.length];
    }
    groups.push(group);
  }
  return groups.join("-");
}
