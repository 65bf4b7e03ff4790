import { createPublicKey, KeyObject, randomUUID } from "node:crypto";
import type { CryptoKey as JoseCryptoKey, JWK, JWTPayload } from "jose";
import { type Clock, systemClock } from "../core/clock.js";
import { BulwarkError } from "../core/errors.js";
import { checkKeys, configError, integer, string } from "../core/options.js";
import type { Guard } from "../core/outcome.js";
import { problem } from "../core/problem.js";

/**
 * Short-lived access tokens: JWTs (RFC 9068 profile, `typ: at+jwt`) signed through `jose` with a
 * keyset indexed by `kid`. One key signs; every key in the set verifies, so rotation is: add the new
 * key (verify-only) everywhere, then make it the signer, then drop the old one after the longest
 * token lifetime. The verifier picks the key by `kid` and only accepts that key's algorithm, so a
 * token cannot choose its own algorithm (no `alg: none`, no RS/HS confusion).
 */

export type AccessTokenAlgorithm = "EdDSA" | "ES256" | "HS256";

type KeyMaterial = JoseCryptoKey | KeyObject | JWK;

export interface AccessTokenKey {
  /** Key id, written into the token header and used to pick the key when verifying. */
  kid: string;
  /** Algorithm (default "EdDSA"). HS256 needs a `secret` of at least 32 bytes. */
  alg?: AccessTokenAlgorithm;
  /** Signing key (CryptoKey, KeyObject or private JWK). Omit for verify-only (retired or incoming) keys. */
  privateKey?: KeyMaterial;
  /** Verification key; derived from a JWK/KeyObject/extractable private key when omitted. */
  publicKey?: KeyMaterial;
  /** HS256 only: the shared secret, ≥ 32 bytes (a string counts its UTF-8 bytes). */
  secret?: Uint8Array | string;
}

export interface AccessTokenOptions {
  /** The keyset; at least one key must be able to sign. */
  keys: readonly AccessTokenKey[];
  /** Which key signs (default: the first key with private material or a secret). */
  signingKid?: string;
  /** `iss` written and required. */
  issuer: string;
  /** `aud` written and required (one value or several). */
  audience: string | readonly string[];
  /** Token lifetime in seconds (default 900 = 15 min; at most 86400). */
  ttlSeconds?: number;
  /** Allowed clock skew when checking `exp`/`iat` in seconds (default 30; at most 300). */
  clockToleranceSeconds?: number;
  /** Longest token accepted, in bytes (default 8192): bigger ones are refused before parsing. */
  maxTokenBytes?: number;
  clock?: Clock;
}

export type AccessTokenDecision =
  | {
      readonly ok: true;
      readonly subject: string;
      /** The whole verified payload (registered and custom claims). */
      readonly claims: Readonly<JWTPayload>;
      readonly kid: string;
    }
  | {
      readonly ok: false;
      readonly code: "ERR_ACCESS_TOKEN_INVALID" | "ERR_ACCESS_TOKEN_EXPIRED";
      /** Why, for logs only (never send it to the client): e.g. "unknown-kid", jose's error code. */
      readonly reason: string;
    };

export interface AccessTokens {
  /** Signs a token for `subject` with optional custom claims (registered claims are set here). */
  sign(subject: string, claims?: Readonly<Record<string, unknown>>): Promise<string>;
  /** Verifies a token: signature by `kid`, algorithm, `typ`, `iss`, `aud`, `exp`, `iat`, `sub`. */
  verify(token: string): Promise<AccessTokenDecision>;
  /** The public keys as a JWKS (`{ keys: [...] }`) for other services; HS256 keys are never listed. */
  jwks(): Promise<{ keys: JWK[] }>;
}

const REGISTERED = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"] as const;
const ALGORITHMS: readonly AccessTokenAlgorithm[] = ["EdDSA", "ES256", "HS256"];
const KID_RE = /^[\x21-\x7E]{1,128}$/;
const encoder = new TextEncoder();

type Jose = typeof import("jose");
let joseModule: Promise<Jose> | undefined;
function loadJose(): Promise<Jose> {
  joseModule ??= import("jose").catch((cause: unknown) => {
    joseModule = undefined;
    throw new BulwarkError("ERR_CONFIG_INVALID", "access tokens need jose: npm i jose", { cause });
  });
  return joseModule;
}

interface ResolvedKey {
  kid: string;
  alg: AccessTokenAlgorithm;
  sign: Uint8Array | KeyObject | JoseCryptoKey | undefined;
  verify: Uint8Array | KeyObject | JoseCryptoKey;
  publicJwk: JWK | undefined;
}

function isJwk(value: unknown): value is JWK {
  return typeof value === "object" && value !== null && typeof (value as JWK).kty === "string";
}

function isCryptoKey(value: unknown): value is JoseCryptoKey {
  return (
    typeof value === "object" &&
    value !== null &&
    !(value instanceof KeyObject) &&
    typeof (value as JoseCryptoKey).type === "string" &&
    typeof (value as JoseCryptoKey).algorithm === "object"
  );
}

const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

function publicJwkOf(jwk: JWK): JWK {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(jwk)) {
    if (!(PRIVATE_JWK_MEMBERS as readonly string[]).includes(k)) out[k] = v;
  }
  return out as JWK;
}

/** Whether a CryptoKey/KeyObject is of the curve the algorithm needs. */
function keyFits(key: JoseCryptoKey | KeyObject, alg: AccessTokenAlgorithm): boolean {
  if (key instanceof KeyObject) {
    if (alg === "EdDSA") return key.asymmetricKeyType === "ed25519";
    return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1";
  }
  const algorithm = key.algorithm as { name: string; namedCurve?: string };
  if (alg === "EdDSA") return algorithm.name === "Ed25519" || algorithm.name === "EdDSA";
  return algorithm.name === "ECDSA" && algorithm.namedCurve === "P-256";
}

async function resolveKey(jose: Jose, key: AccessTokenKey, alg: AccessTokenAlgorithm): Promise<ResolvedKey> {
  const where = `accessTokens: key "${key.kid}"`;
  if (alg === "HS256") {
    const secret = typeof key.secret === "string" ? encoder.encode(key.secret) : (key.secret as Uint8Array);
    return { kid: key.kid, alg, sign: secret, verify: secret, publicJwk: undefined };
  }
  const toKey = async (material: KeyMaterial): Promise<JoseCryptoKey | KeyObject> =>
    isJwk(material) ? ((await jose.importJWK(material, alg)) as JoseCryptoKey | KeyObject) : material;
  const sign = key.privateKey === undefined ? undefined : await toKey(key.privateKey);
  let verify: JoseCryptoKey | KeyObject;
  if (key.publicKey !== undefined) {
    verify = await toKey(key.publicKey);
  } else if (isJwk(key.privateKey)) {
    verify = await toKey(publicJwkOf(key.privateKey));
  } else if (key.privateKey instanceof KeyObject) {
    verify = createPublicKey(key.privateKey);
  } else if (isCryptoKey(key.privateKey) && key.privateKey.extractable) {
    verify = await toKey(publicJwkOf(await jose.exportJWK(key.privateKey)));
  } else {
    throw configError(where, "a non-extractable CryptoKey needs its publicKey next to it");
  }
  if (isCryptoKey(verify) ? verify.type !== "public" : (verify as KeyObject).type !== "public") {
    throw configError(where, `"publicKey" must be a public key`);
  }
  if (!keyFits(verify, alg) || (sign !== undefined && !keyFits(sign, alg))) {
    throw configError(
      where,
      `the key material does not fit ${alg} (${alg === "EdDSA" ? "Ed25519" : "P-256"} expected)`,
    );
  }
  const publicJwk = { ...(await jose.exportJWK(verify)), kid: key.kid, alg, use: "sig" };
  return { kid: key.kid, alg, sign, verify, publicJwk };
}

/**
 * Creates the access-token signer/verifier. Options are checked synchronously; keys are imported on
 * first use (jose's import is asynchronous) and the import error, if any, surfaces there.
 */
export function accessTokens(options: AccessTokenOptions): AccessTokens {
  const where = "accessTokens";
  const o = checkKeys(where, options, [
    "keys",
    "signingKid",
    "issuer",
    "audience",
    "ttlSeconds",
    "clockToleranceSeconds",
    "maxTokenBytes",
    "clock",
  ]);
  const issuer = string(where, "issuer", o.issuer, undefined);
  const audience = o.audience;
  const audiences = typeof audience === "string" ? [audience] : audience;
  if (
    !Array.isArray(audiences) ||
    audiences.length === 0 ||
    !audiences.every((a) => typeof a === "string" && a.length > 0)
  ) {
    throw configError(where, `"audience" must be a non-empty string or array of non-empty strings`);
  }
  const ttlSeconds = integer(where, "ttlSeconds", o.ttlSeconds, 900, { min: 1, max: 86_400 });
  const toleranceSeconds = integer(where, "clockToleranceSeconds", o.clockToleranceSeconds, 30, {
    min: 0,
    max: 300,
  });
  const maxTokenBytes = integer(where, "maxTokenBytes", o.maxTokenBytes, 8192, { min: 256, max: 65_536 });
  const clock = (o.clock as Clock | undefined) ?? systemClock;

  if (!Array.isArray(o.keys) || o.keys.length === 0)
    throw configError(where, `"keys" must be a non-empty array`);
  const specs: Array<{ key: AccessTokenKey; alg: AccessTokenAlgorithm }> = [];
  const kids = new Set<string>();
  for (const raw of o.keys as unknown[]) {
    const key = checkKeys(`${where}: key`, raw, [
      "kid",
      "alg",
      "privateKey",
      "publicKey",
      "secret",
    ]) as unknown as AccessTokenKey;
    if (typeof key.kid !== "string" || !KID_RE.test(key.kid)) {
      throw configError(where, `every key needs a "kid" of 1–128 printable ASCII characters`);
    }
    if (kids.has(key.kid)) throw configError(where, `duplicate kid "${key.kid}"`);
    kids.add(key.kid);
    const alg = key.alg ?? "EdDSA";
    if (!ALGORITHMS.includes(alg)) {
      throw configError(where, `key "${key.kid}": "alg" must be one of ${ALGORITHMS.join(", ")}`);
    }
    if (alg === "HS256") {
      const bytes =
        typeof key.secret === "string"
          ? encoder.encode(key.secret).length
          : key.secret instanceof Uint8Array
            ? key.secret.length
            : -1;
      if (bytes < 32)
        throw configError(where, `key "${key.kid}": HS256 needs a "secret" of at least 32 bytes`);
      if (key.privateKey !== undefined || key.publicKey !== undefined) {
        throw configError(where, `key "${key.kid}": HS256 takes a "secret", not key pairs`);
      }
    } else {
      if (key.secret !== undefined) throw configError(where, `key "${key.kid}": "secret" is for HS256 only`);
      if (key.privateKey === undefined && key.publicKey === undefined) {
        throw configError(where, `key "${key.kid}": needs a privateKey and/or publicKey`);
      }
      for (const m of [key.privateKey, key.publicKey]) {
        if (m !== undefined && !isJwk(m) && !isCryptoKey(m) && !(m instanceof KeyObject)) {
          throw configError(where, `key "${key.kid}": keys must be CryptoKey, KeyObject or JWK objects`);
        }
      }
      if (isJwk(key.privateKey) && typeof key.privateKey.d !== "string") {
        throw configError(where, `key "${key.kid}": "privateKey" is a public JWK (no "d")`);
      }
    }
    specs.push({ key, alg });
  }
  const canSign = (s: { key: AccessTokenKey; alg: AccessTokenAlgorithm }) =>
    s.alg === "HS256" || s.key.privateKey !== undefined;
  const signingKid = o.signingKid === undefined ? specs.find(canSign)?.key.kid : String(o.signingKid);
  const signer = specs.find((s) => s.key.kid === signingKid);
  if (signer === undefined || !canSign(signer)) {
    throw configError(
      where,
      o.signingKid === undefined
        ? "no key can sign (give one a privateKey or an HS256 secret)"
        : `"signingKid" must name a key that can sign`,
    );
  }

  let resolved: Promise<Map<string, ResolvedKey>> | undefined;
  function keyset(): Promise<Map<string, ResolvedKey>> {
    resolved ??= (async () => {
      const jose = await loadJose();
      const map = new Map<string, ResolvedKey>();
      for (const s of specs) map.set(s.key.kid, await resolveKey(jose, s.key, s.alg));
      return map;
    })();
    resolved.catch(() => {
      resolved = undefined;
    });
    return resolved;
  }

  const invalid = (reason: string): AccessTokenDecision => ({
    ok: false,
    code: "ERR_ACCESS_TOKEN_INVALID",
    reason,
  });

  return {
    async sign(subject, claims = {}) {
      if (typeof subject !== "string" || subject.length === 0) {
        throw new BulwarkError("ERR_ACCESS_TOKEN_CLAIM_RESERVED", "subject must be a non-empty string");
      }
      for (const name of REGISTERED) {
        if (Object.hasOwn(claims, name)) {
          throw new BulwarkError(
            "ERR_ACCESS_TOKEN_CLAIM_RESERVED",
            `custom claims may not set "${name}"; the signer sets registered claims`,
          );
        }
      }
      const jose = await loadJose();
      const key = (await keyset()).get(signer.key.kid) as ResolvedKey;
      const nowSeconds = Math.floor(clock.now() / 1000);
      return new jose.SignJWT({ ...claims })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "at+jwt" })
        .setIssuer(issuer)
        .setSubject(subject)
        .setAudience(audiences.length === 1 ? (audiences[0] as string) : [...audiences])
        .setIssuedAt(nowSeconds)
        .setExpirationTime(nowSeconds + ttlSeconds)
        .setJti(randomUUID())
        .sign(key.sign as Uint8Array);
    },

    async verify(token) {
      if (typeof token !== "string" || token.length === 0) return invalid("empty");
      if (token.length > maxTokenBytes) return invalid("too-large");
      const jose = await loadJose();
      let kid: string | undefined;
      try {
        kid = jose.decodeProtectedHeader(token).kid;
      } catch {
        return invalid("malformed");
      }
      const key = kid === undefined ? undefined : (await keyset()).get(kid);
      if (key === undefined) return invalid("unknown-kid");
      try {
        const { payload } = await jose.jwtVerify(token, key.verify as Uint8Array, {
          algorithms: [key.alg],
          typ: "at+jwt",
          issuer,
          audience: [...audiences],
          clockTolerance: toleranceSeconds,
          maxTokenAge: ttlSeconds + toleranceSeconds,
          currentDate: new Date(clock.now()),
          requiredClaims: ["exp", "iat", "sub", "jti"],
        });
        if (typeof payload.sub !== "string" || payload.sub.length === 0) return invalid("no-subject");
        if (typeof payload.iat === "number" && payload.iat > clock.now() / 1000 + toleranceSeconds) {
          return invalid("issued-in-the-future");
        }
        return { ok: true, subject: payload.sub, claims: payload, kid: key.kid };
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === "ERR_JWT_EXPIRED") return { ok: false, code: "ERR_ACCESS_TOKEN_EXPIRED", reason: code };
        if (typeof code === "string" && code.startsWith("ERR_J")) {
          const claim = (error as { claim?: unknown }).claim;
          return invalid(typeof claim === "string" ? `${code}:${claim}` : code);
        }
        throw error;
      }
    },

    async jwks() {
      const keys: JWK[] = [];
      for (const key of (await keyset()).values()) if (key.publicJwk !== undefined) keys.push(key.publicJwk);
      return { keys };
    },
  };
}

/** A fresh signing key for `accessTokens` (extractable, so it can be exported with jose's exportJWK). */
export async function generateAccessTokenKey(
  alg: Exclude<AccessTokenAlgorithm, "HS256"> = "EdDSA",
  kid: string = randomUUID(),
): Promise<Required<Pick<AccessTokenKey, "kid" | "alg" | "privateKey" | "publicKey">>> {
  const jose = await loadJose();
  const pair = await jose.generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export interface BearerGuardOptions {
  /** Realm in `WWW-Authenticate` (default none). */
  realm?: string;
}

/**
 * A Guard requiring `Authorization: Bearer <access token>`. Missing → 401 ERR_ACCESS_TOKEN_MISSING
 * with `WWW-Authenticate: Bearer`; invalid or expired → 401 with `error="invalid_token"` (RFC 6750).
 * On success the verified token reaches the handler as locals `{ auth: { subject, claims, kid } }`.
 */
export function bearerGuard(tokens: AccessTokens, options: BearerGuardOptions = {}): Guard {
  const where = "bearerGuard";
  const o = checkKeys(where, options, ["realm"]);
  if (tokens === null || typeof tokens !== "object" || typeof tokens.verify !== "function") {
    throw configError(where, "first argument must come from accessTokens()");
  }
  const realm = o.realm === undefined ? undefined : string(where, "realm", o.realm, undefined);
  if (realm !== undefined && !/^[\x20\x21\x23-\x5B\x5D-\x7E]{1,64}$/.test(realm)) {
    throw configError(where, `"realm" must be printable ASCII without quotes or backslashes`);
  }
  const prefix = realm === undefined ? "Bearer" : `Bearer realm="${realm}"`;
  const missing = problem(401, "ERR_ACCESS_TOKEN_MISSING", "Authentication required", [
    ["www-authenticate", prefix],
  ]);
  const challenge = `${prefix}${realm === undefined ? " " : ", "}error="invalid_token"`;
  const rejected = {
    ERR_ACCESS_TOKEN_INVALID: problem(401, "ERR_ACCESS_TOKEN_INVALID", "Invalid access token", [
      ["www-authenticate", challenge],
    ]),
    ERR_ACCESS_TOKEN_EXPIRED: problem(401, "ERR_ACCESS_TOKEN_EXPIRED", "Access token expired", [
      ["www-authenticate", challenge],
    ]),
  } as const;

  return async (request) => {
    const header = request.header("authorization");
    if (header === undefined) return missing;
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (match === null) return rejected.ERR_ACCESS_TOKEN_INVALID;
    const decision = await tokens.verify(match[1] as string);
    if (!decision.ok) return rejected[decision.code];
    return {
      action: "continue",
      locals: { auth: { subject: decision.subject, claims: decision.claims, kid: decision.kid } },
    };
  };
}
