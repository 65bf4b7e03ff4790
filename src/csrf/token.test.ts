import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deriveKeys, issueToken, TOKEN_LENGTH, verifyToken } from "./token.js";

const encoder = new TextEncoder();
const keysOf = (...secrets: string[]) =>
  deriveKeys(
    secrets.map((s) => encoder.encode(s)),
    "test/v1",
  );
const KEYS = keysOf("a-secret-of-at-least-thirty-two-bytes!!");
const NOW = Date.UTC(2026, 0, 1);
const DAY_MS = 86_400_000;

function flipByte(token: string, index: number, mask: number): string {
  const bytes = Buffer.from(token, "base64url");
  bytes[index % bytes.length] = (bytes[index % bytes.length] as number) ^ mask;
  return bytes.toString("base64url");
}

describe("csrf tokens", () => {
  it("issues base64url tokens of a fixed length that verify for their own session", () => {
    const token = issueToken(KEYS, "anon:s1", NOW);
    expect(token).toHaveLength(TOKEN_LENGTH);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(verifyToken(KEYS, "anon:s1", token, NOW, DAY_MS)).toEqual({ ok: true });
  });

  it("signs HMAC-SHA256(key, version | issuedAt | random | UTF-8 binding), non-ASCII bindings included", () => {
    for (const binding of ["anon:s1", "app:zoë-€-😀", "app:lone-\ud800-surrogate"]) {
      const token = issueToken(KEYS, binding, NOW);
      const masked = Buffer.from(token, "base64url");
      const raw = Buffer.alloc(53);
      for (let i = 0; i < 53; i++) raw[i] = (masked[i] as number) ^ (masked[53 + i] as number);
      expect(raw[0]).toBe(1);
      expect(raw.readUInt32BE(1)).toBe(NOW / 1000);
      const expected = createHmac("sha256", KEYS[0] as Uint8Array)
        .update(raw.subarray(0, 21))
        .update(encoder.encode(binding))
        .digest();
      expect(raw.subarray(21).equals(expected)).toBe(true);
      expect(verifyToken(KEYS, binding, token, NOW, DAY_MS)).toEqual({ ok: true });
    }
  });

  it("reads an issue time past 2038 (an unsigned 32-bit second count)", () => {
    const later = Date.UTC(2100, 0, 1);
    const token = issueToken(KEYS, "anon:s1", later);
    expect(verifyToken(KEYS, "anon:s1", token, later, DAY_MS)).toEqual({ ok: true });
    expect(verifyToken(KEYS, "anon:s1", token, later + DAY_MS + 1, DAY_MS)).toEqual({
      ok: false,
      reason: "expired",
    });
  });

  it("never issues the same bytes twice for the same session and time (masking)", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) seen.add(issueToken(KEYS, "anon:s1", NOW));
    expect(seen.size).toBe(500);
  });

  it("rejects a token bound to another session", () => {
    const token = issueToken(KEYS, "anon:s1", NOW);
    expect(verifyToken(KEYS, "anon:s2", token, NOW, DAY_MS)).toEqual({ ok: false, reason: "signature" });
    expect(verifyToken(KEYS, "app:s1", token, NOW, DAY_MS)).toEqual({ ok: false, reason: "signature" });
  });

  it("rejects a token older than the maximum age, and accepts it up to that age", () => {
    const token = issueToken(KEYS, "anon:s1", NOW);
    expect(verifyToken(KEYS, "anon:s1", token, NOW + DAY_MS, DAY_MS)).toEqual({ ok: true });
    expect(verifyToken(KEYS, "anon:s1", token, NOW + DAY_MS + 1, DAY_MS)).toEqual({
      ok: false,
      reason: "expired",
    });
  });

  it("rejects a token issued more than a minute in the future", () => {
    const token = issueToken(KEYS, "anon:s1", NOW + 61_000);
    expect(verifyToken(KEYS, "anon:s1", token, NOW, DAY_MS)).toEqual({ ok: false, reason: "future" });
    const skewed = issueToken(KEYS, "anon:s1", NOW + 30_000);
    expect(verifyToken(KEYS, "anon:s1", skewed, NOW, DAY_MS)).toEqual({ ok: true });
  });

  it("verifies with any configured secret but signs with the first (rotation)", () => {
    const oldKeys = keysOf("the-old-secret-of-at-least-32-bytes-long");
    const rotated = keysOf(
      "the-new-secret-of-at-least-32-bytes-long",
      "the-old-secret-of-at-least-32-bytes-long",
    );
    const fromOld = issueToken(oldKeys, "anon:s1", NOW);
    expect(verifyToken(rotated, "anon:s1", fromOld, NOW, DAY_MS)).toEqual({ ok: true });
    const fromNew = issueToken(rotated, "anon:s1", NOW);
    expect(verifyToken(oldKeys, "anon:s1", fromNew, NOW, DAY_MS)).toEqual({ ok: false, reason: "signature" });
  });

  it("rejects malformed input without throwing", () => {
    for (const bad of [
      "",
      "abc",
      "x".repeat(TOKEN_LENGTH),
      `${"A".repeat(TOKEN_LENGTH - 1)}!`,
      "%".repeat(142),
    ]) {
      const check = verifyToken(KEYS, "anon:s1", bad, NOW, DAY_MS);
      expect(check.ok).toBe(false);
    }
    expect(verifyToken(KEYS, "anon:s1", "A".repeat(TOKEN_LENGTH), NOW, DAY_MS)).toEqual({
      ok: false,
      reason: "malformed",
    });
  });

  it("round-trips for any session binding and issue time (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (binding, seconds) => {
          const now = seconds * 1000;
          const token = issueToken(KEYS, binding, now);
          expect(verifyToken(KEYS, binding, token, now, DAY_MS)).toEqual({ ok: true });
        },
      ),
    );
  });

  it("fails for any single changed byte of the decoded token (property)", () => {
    const token = issueToken(KEYS, "anon:s1", NOW);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (index, mask) => {
        expect(verifyToken(KEYS, "anon:s1", flipByte(token, index, mask), NOW, DAY_MS).ok).toBe(false);
      }),
    );
  });

  it("fails for any single changed character of the encoded token (property)", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const token = issueToken(KEYS, "anon:s1", NOW);
    fc.assert(
      fc.property(fc.nat({ max: TOKEN_LENGTH - 1 }), fc.nat({ max: 63 }), (index, c) => {
        const replacement = alphabet[c] as string;
        fc.pre(token[index] !== replacement);
        const tampered = token.slice(0, index) + replacement + token.slice(index + 1);
        expect(verifyToken(KEYS, "anon:s1", tampered, NOW, DAY_MS).ok).toBe(false);
      }),
    );
  });
});
