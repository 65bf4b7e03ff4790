import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { manualClock } from "../core/clock.js";
import { isBulwarkError } from "../core/errors.js";
import type { RespondOutcome } from "../core/outcome.js";
import { viewFromParts } from "../core/request.js";
import { accessTokens, bearerGuard, generateAccessTokenKey } from "./access.js";

// RFC 8037 Appendix A.1: the Ed25519 key pair of the specification's examples.
const RFC8037_JWK = {
  kty: "OKP",
  crv: "Ed25519",
  d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
  x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
} as const;

// RFC 7515 Appendix A.1: an HS256-signed JWT (no kid, typ "JWT") and its key.
const RFC7515_HS256_TOKEN =
  "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC7515_HS256_KEY = Buffer.from(
  "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
  "base64url",
);

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h as string, "base64url").toString()),
    payload: JSON.parse(Buffer.from(p as string, "base64url").toString()),
  };
}

const base = { issuer: "https://auth.example", audience: "api" } as const;

describe("accessTokens: sign and verify", () => {
  it("signs an EdDSA at+jwt with kid, iss, sub, aud, iat, exp (15 min) and jti, and verifies it", async () => {
    const clock = manualClock();
    const key = await generateAccessTokenKey("EdDSA", "k1");
    const tokens = accessTokens({ ...base, keys: [key], clock });
    const token = await tokens.sign("user-1", { role: "teacher" });
    const { header, payload } = decode(token);
    expect(header).toEqual({ alg: "EdDSA", kid: "k1", typ: "at+jwt" });
    const now = clock.now() / 1000;
    expect(payload).toMatchObject({
      iss: base.issuer,
      sub: "user-1",
      aud: "api",
      iat: now,
      exp: now + 900,
      role: "teacher",
    });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    const r = await tokens.verify(token);
    expect(r).toMatchObject({ ok: true, subject: "user-1", kid: "k1" });
    if (r.ok) expect(r.claims.role).toBe("teacher");
  });

  it("signs and verifies ES256 and HS256 (≥ 32-byte secret) keys", async () => {
    const es = await generateAccessTokenKey("ES256", "es");
    const t1 = accessTokens({ ...base, keys: [es] });
    expect(await t1.verify(await t1.sign("u"))).toMatchObject({ ok: true, kid: "es" });
    const t2 = accessTokens({ ...base, keys: [{ kid: "hs", alg: "HS256", secret: "s".repeat(32) }] });
    const token = await t2.sign("u");
    expect(decode(token).header.alg).toBe("HS256");
    expect(await t2.verify(token)).toMatchObject({ ok: true, kid: "hs" });
  });

  it("accepts a token signed by an independent Ed25519 implementation (node:crypto) with the RFC 8037 key", async () => {
    const clock = manualClock();
    const tokens = accessTokens({ ...base, keys: [{ kid: "rfc", privateKey: RFC8037_JWK }], clock });
    const now = clock.now() / 1000;
    const input = `${b64({ alg: "EdDSA", kid: "rfc", typ: "at+jwt" })}.${b64({
      iss: base.issuer,
      sub: "u",
      aud: "api",
      iat: now,
      exp: now + 60,
      jti: "j",
    })}`;
    const signature = nodeSign(
      null,
      Buffer.from(input),
      createPrivateKey({ key: RFC8037_JWK, format: "jwk" }),
    );
    expect(await tokens.verify(`${input}.${signature.toString("base64url")}`)).toMatchObject({ ok: true });
    // And the other way round: node:crypto verifies what we signed.
    const ours = (await tokens.sign("u")).split(".");
    const publicKey = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: RFC8037_JWK.x },
      format: "jwk",
    });
    expect(
      nodeVerify(
        null,
        Buffer.from(`${ours[0]}.${ours[1]}`),
        publicKey,
        Buffer.from(ours[2] as string, "base64url"),
      ),
    ).toBe(true);
  });

  it("publishes only public keys in jwks() (RFC 8037's x derived from its d), never HS256 secrets", async () => {
    const tokens = accessTokens({
      ...base,
      keys: [
        { kid: "rfc", privateKey: RFC8037_JWK },
        { kid: "hs", alg: "HS256", secret: new Uint8Array(32).fill(7) },
      ],
    });
    const { keys } = await tokens.jwks();
    expect(keys).toEqual([
      { kty: "OKP", crv: "Ed25519", x: RFC8037_JWK.x, kid: "rfc", alg: "EdDSA", use: "sig" },
    ]);
  });
});

describe("accessTokens: key rotation by kid", () => {
  it("verifies tokens of a retired signer kept verify-only, and refuses them once it is removed", async () => {
    const oldKey = await generateAccessTokenKey("EdDSA", "2026-01");
    const newKey = await generateAccessTokenKey("EdDSA", "2026-02");
    const before = accessTokens({ ...base, keys: [oldKey] });
    const oldToken = await before.sign("u");

    const during = accessTokens({
      ...base,
      keys: [newKey, { kid: oldKey.kid, publicKey: oldKey.publicKey }],
    });
    const newToken = await during.sign("u");
    expect(decode(newToken).header.kid).toBe("2026-02");
    expect(await during.verify(oldToken)).toMatchObject({ ok: true, kid: "2026-01" });
    expect(await during.verify(newToken)).toMatchObject({ ok: true, kid: "2026-02" });

    const after = accessTokens({ ...base, keys: [newKey] });
    expect(await after.verify(oldToken)).toEqual({
      ok: false,
      code: "ERR_ACCESS_TOKEN_INVALID",
      reason: "unknown-kid",
    });
  });

  it("signs with signingKid when given, so a new key can be rolled out verify-only first", async () => {
    const a = await generateAccessTokenKey("EdDSA", "a");
    const b = await generateAccessTokenKey("EdDSA", "b");
    const tokens = accessTokens({ ...base, keys: [a, b], signingKid: "b" });
    expect(decode(await tokens.sign("u")).header.kid).toBe("b");
  });

  it("refuses a token whose kid names another key's slot but is signed by a different key", async () => {
    const real = await generateAccessTokenKey("EdDSA", "k");
    const forged = await generateAccessTokenKey("EdDSA", "k");
    const token = await accessTokens({ ...base, keys: [forged] }).sign("admin");
    expect(await accessTokens({ ...base, keys: [real] }).verify(token)).toEqual({
      ok: false,
      code: "ERR_ACCESS_TOKEN_INVALID",
      reason: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    });
  });
});

describe("accessTokens: rejections", () => {
  it("reports expiry past the clock tolerance as ERR_ACCESS_TOKEN_EXPIRED, and accepts within it", async () => {
    const clock = manualClock();
    const tokens = accessTokens({ ...base, keys: [await generateAccessTokenKey()], clock, ttlSeconds: 60 });
    const token = await tokens.sign("u");
    clock.advance((60 + 29) * 1000);
    expect((await tokens.verify(token)).ok).toBe(true);
    clock.advance(2000);
    expect(await tokens.verify(token)).toEqual({
      ok: false,
      code: "ERR_ACCESS_TOKEN_EXPIRED",
      reason: "ERR_JWT_EXPIRED",
    });
  });

  it("refuses a token issued in the future beyond the tolerance (a signer with a skewed clock)", async () => {
    const clock = manualClock();
    const key = await generateAccessTokenKey();
    const ahead = manualClock(clock.now() + 5 * 60_000);
    const token = await accessTokens({ ...base, keys: [key], clock: ahead }).sign("u");
    const r = await accessTokens({ ...base, keys: [key], clock }).verify(token);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe("ERR_ACCESS_TOKEN_INVALID");
  });

  it("refuses another audience or issuer, naming the claim in the reason", async () => {
    const key = await generateAccessTokenKey();
    const token = await accessTokens({ ...base, keys: [key] }).sign("u");
    expect(await accessTokens({ ...base, audience: "billing", keys: [key] }).verify(token)).toEqual({
      ok: false,
      code: "ERR_ACCESS_TOKEN_INVALID",
      reason: "ERR_JWT_CLAIM_VALIDATION_FAILED:aud",
    });
    expect(await accessTokens({ ...base, issuer: "https://other", keys: [key] }).verify(token)).toEqual({
      ok: false,
      code: "ERR_ACCESS_TOKEN_INVALID",
      reason: "ERR_JWT_CLAIM_VALIDATION_FAILED:iss",
    });
  });

  it("refuses alg confusion: an HS256 token keyed with an EdDSA key's public bytes", async () => {
    const key = await generateAccessTokenKey("EdDSA", "k");
    const tokens = accessTokens({ ...base, keys: [key] });
    const x = (await tokens.jwks()).keys[0]?.x as string;
    const forger = accessTokens({ ...base, keys: [{ kid: "k", alg: "HS256", secret: Buffer.from(x) }] });
    const r = await tokens.verify(await forger.sign("admin"));
    expect(r).toEqual({ ok: false, code: "ERR_ACCESS_TOKEN_INVALID", reason: "ERR_JOSE_ALG_NOT_ALLOWED" });
  });

  it("refuses alg none, a typ other than at+jwt, a missing kid and the RFC 7515 example token", async () => {
    const clock = manualClock();
    const key = await generateAccessTokenKey("EdDSA", "k");
    const tokens = accessTokens({ ...base, keys: [key], clock });
    const now = clock.now() / 1000;
    const claims = { iss: base.issuer, sub: "u", aud: "api", iat: now, exp: now + 60, jti: "j" };
    const none = `${b64({ alg: "none", kid: "k", typ: "at+jwt" })}.${b64(claims)}.`;
    expect((await tokens.verify(none)).ok).toBe(false);

    const idTokenSigner = accessTokens({ ...base, keys: [key] });
    const [, p, s] = (await idTokenSigner.sign("u")).split(".");
    const retyped = `${b64({ alg: "EdDSA", kid: "k", typ: "JWT" })}.${p}.${s}`;
    expect((await tokens.verify(retyped)).ok).toBe(false);

    expect(await tokens.verify(RFC7515_HS256_TOKEN)).toEqual({
      ok: false,
      code: "ERR_ACCESS_TOKEN_INVALID",
      reason: "unknown-kid",
    });
    const hs = accessTokens({ ...base, keys: [{ kid: "k", alg: "HS256", secret: RFC7515_HS256_KEY }] });
    expect(await hs.verify(RFC7515_HS256_TOKEN)).toMatchObject({ ok: false, reason: "unknown-kid" });
  });

  it("refuses any single-character change to a token", async () => {
    const tokens = accessTokens({ ...base, keys: [await generateAccessTokenKey()] });
    const token = await tokens.sign("u", { scope: "read" });
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: token.length - 1 }),
        fc.nat({ max: alphabet.length - 1 }),
        async (at, c) => {
          if (token[at] === "." || token[at] === alphabet[c]) return;
          const tampered = token.slice(0, at) + alphabet[c] + token.slice(at + 1);
          // A change in the last base64url character may only flip padding bits; those decode the same.
          const same = Buffer.from(tampered.split(".")[2] ?? "", "base64url").equals(
            Buffer.from(token.split(".")[2] ?? "", "base64url"),
          );
          if (same && at > token.lastIndexOf(".")) return;
          expect((await tokens.verify(tampered)).ok).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses garbage, empty and oversized tokens without throwing", async () => {
    const tokens = accessTokens({ ...base, keys: [await generateAccessTokenKey()], maxTokenBytes: 256 });
    expect(await tokens.verify("")).toMatchObject({ ok: false, reason: "empty" });
    expect(await tokens.verify("not.a.jwt")).toMatchObject({ ok: false, reason: "malformed" });
    expect(await tokens.verify("x".repeat(257))).toMatchObject({ ok: false, reason: "too-large" });
    expect(await tokens.verify(42 as unknown as string)).toMatchObject({ ok: false, reason: "empty" });
  });

  it("refuses custom claims that would override registered ones", async () => {
    const tokens = accessTokens({ ...base, keys: [await generateAccessTokenKey()] });
    for (const claim of ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]) {
      try {
        await tokens.sign("u", { [claim]: 1 });
        throw new Error("accepted");
      } catch (error) {
        expect(isBulwarkError(error, "ERR_ACCESS_TOKEN_CLAIM_RESERVED"), claim).toBe(true);
      }
    }
  });
});

describe("accessTokens: options", () => {
  it("rejects bad keysets and options at construction with ERR_CONFIG_INVALID", async () => {
    const key = await generateAccessTokenKey("EdDSA", "k");
    const bad: Array<[string, unknown]> = [
      ["no keys", { ...base, keys: [] }],
      ["no issuer", { audience: "api", keys: [key] }],
      ["empty audience", { ...base, audience: [], keys: [key] }],
      ["duplicate kid", { ...base, keys: [key, { kid: "k", publicKey: key.publicKey }] }],
      ["verify-only keys", { ...base, keys: [{ kid: "k", publicKey: key.publicKey }] }],
      ["unknown signingKid", { ...base, keys: [key], signingKid: "nope" }],
      ["short HS256 secret", { ...base, keys: [{ kid: "h", alg: "HS256", secret: "s".repeat(31) }] }],
      ["RS256", { ...base, keys: [{ ...key, alg: "RS256" }] }],
      ["ttl over a day", { ...base, keys: [key], ttlSeconds: 86_401 }],
      ["typo", { ...base, keys: [key], ttlSecond: 60 }],
      ["key typo", { ...base, keys: [{ ...key, privatekey: 1 }] }],
      ["non-key material", { ...base, keys: [{ kid: "x", privateKey: "-----BEGIN PRIVATE KEY-----" }] }],
      ["empty kid", { ...base, keys: [{ ...key, kid: "" }] }],
      [
        "public JWK as private",
        { ...base, keys: [{ kid: "p", privateKey: { kty: "OKP", crv: "Ed25519", x: RFC8037_JWK.x } }] },
      ],
    ];
    for (const [name, options] of bad) {
      try {
        accessTokens(options as never);
        throw new Error(`accepted: ${name}`);
      } catch (error) {
        expect(isBulwarkError(error, "ERR_CONFIG_INVALID"), name).toBe(true);
      }
    }
  });
});

describe("accessTokens: key material", () => {
  it("fails on first use with ERR_CONFIG_INVALID when a key does not fit its algorithm", async () => {
    const es = await generateAccessTokenKey("ES256", "es");
    const tokens = accessTokens({ ...base, keys: [{ ...es, alg: "EdDSA" }] });
    await expect(tokens.sign("u")).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    const ed = await generateAccessTokenKey("EdDSA", "ed");
    const wrong = accessTokens({
      ...base,
      keys: [{ kid: "x", alg: "ES256", privateKey: ed.privateKey, publicKey: ed.publicKey }],
    });
    await expect(wrong.verify("a.b.c")).resolves.toMatchObject({ ok: false });
    await expect(wrong.sign("u")).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
  });

  it("accepts node KeyObjects and derives the public key from a private one", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const tokens = accessTokens({
      ...base,
      keys: [{ kid: "ko", alg: "ES256", privateKey: pair.privateKey }],
    });
    expect(await tokens.verify(await tokens.sign("u"))).toMatchObject({ ok: true, kid: "ko" });
  });
});

describe("bearerGuard", () => {
  const setup = async () => {
    const clock = manualClock();
    const tokens = accessTokens({ ...base, keys: [await generateAccessTokenKey("EdDSA", "k")], clock });
    return { clock, tokens, guard: bearerGuard(tokens, { realm: "api" }) };
  };
  const respond = (o: unknown) => o as RespondOutcome;

  it("answers 401 ERR_ACCESS_TOKEN_MISSING with a bare Bearer challenge when no token is sent", async () => {
    const { guard } = await setup();
    const r = respond(await guard(viewFromParts({})));
    expect(r.status).toBe(401);
    expect(JSON.parse(String(r.body)).code).toBe("ERR_ACCESS_TOKEN_MISSING");
    expect(r.headers).toContainEqual(["www-authenticate", 'Bearer realm="api"']);
  });

  it("answers 401 with error=invalid_token for a bad or expired token", async () => {
    const { guard, tokens, clock } = await setup();
    const bad = respond(await guard(viewFromParts({ headers: { authorization: "Bearer abc.def.ghi" } })));
    expect(bad.status).toBe(401);
    expect(JSON.parse(String(bad.body)).code).toBe("ERR_ACCESS_TOKEN_INVALID");
    expect(bad.headers).toContainEqual(["www-authenticate", 'Bearer realm="api", error="invalid_token"']);
    const basic = respond(await guard(viewFromParts({ headers: { authorization: "Basic dTpw" } })));
    expect(JSON.parse(String(basic.body)).code).toBe("ERR_ACCESS_TOKEN_INVALID");
    const token = await tokens.sign("u");
    clock.advance(3600_000);
    const expired = respond(await guard(viewFromParts({ headers: { authorization: `Bearer ${token}` } })));
    expect(expired.status).toBe(401);
    expect(JSON.parse(String(expired.body)).code).toBe("ERR_ACCESS_TOKEN_EXPIRED");
  });

  it("lets a valid token through with the subject and claims as locals", async () => {
    const { guard, tokens } = await setup();
    const token = await tokens.sign("user-7", { scope: "lessons:read" });
    const r = await guard(viewFromParts({ headers: { authorization: `bearer ${token}` } }));
    expect(r.action).toBe("continue");
    if (r.action === "continue") {
      expect(r.locals?.auth).toMatchObject({
        subject: "user-7",
        kid: "k",
        claims: { scope: "lessons:read" },
      });
    }
  });

  it("rejects a realm with quotes and a first argument that is not an accessTokens()", async () => {
    const { tokens } = await setup();
    expect(() => bearerGuard(tokens, { realm: 'a"b' })).toThrow(/realm/);
    expect(() => bearerGuard({} as never)).toThrow(/accessTokens/);
  });
});
