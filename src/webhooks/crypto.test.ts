import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  backend,
  type CryptoBackend,
  decodeBase64,
  decodeHex,
  ed25519Key,
  encodeBase64,
  hmacKey,
  nodeBackend,
  toHex,
  utf8Encode,
  webBackend,
} from "./crypto.js";

// RFC 4231 §4.3 (test case 2) and RFC 8032 §7.1 (TEST 1) — published vectors.
const JEFE = utf8Encode("Jefe");
const NOTHING = "what do ya want for nothing?";
const RFC4231_2_SHA256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
const RFC4231_2_SHA512 =
  "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";
const RFC8032_1_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_1_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC8032_1_SIG =
  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

const hex = (s: string) => decodeHex(s, 0, s.length / 2) as Uint8Array;

const backends: Array<[string, CryptoBackend]> = [["web", webBackend]];
if (nodeBackend) backends.push(["node", nodeBackend]);

describe("crypto backend selection", () => {
  it("uses node:crypto on Node, so HMAC is synchronous", () => {
    expect(backend.name).toBe("node");
    expect(backend.hmac(hmacKey(JEFE), "", NOTHING, "")).toBeInstanceOf(Uint8Array);
  });
});

describe.each(backends)("%s backend", (_name, b) => {
  it("computes the RFC 4231 test case 2 HMAC-SHA256 and HMAC-SHA512", async () => {
    expect(toHex(await b.hmac(hmacKey(JEFE), "", NOTHING, ""))).toBe(RFC4231_2_SHA256);
    expect(toHex(await b.hmac(hmacKey(JEFE, "sha512"), "", NOTHING, ""))).toBe(RFC4231_2_SHA512);
  });

  it("HMACs prefix ‖ body ‖ suffix exactly as the concatenation", async () => {
    const whole = await b.hmac(hmacKey(JEFE), "", NOTHING, "");
    const split = await b.hmac(hmacKey(JEFE), "what do ", utf8Encode("ya want for "), "nothing?");
    expect(toHex(split)).toBe(toHex(whole));
  });

  it("derives the RFC 8032 TEST 1 public key and signature", async () => {
    const seed = hex(RFC8032_1_SEED);
    expect(toHex(await b.ed25519PublicFromSeed(seed))).toBe(RFC8032_1_PUBLIC);
    const sig = await b.ed25519Sign(ed25519Key(seed, "private"), new Uint8Array(0));
    expect(toHex(sig)).toBe(RFC8032_1_SIG);
    const pub = ed25519Key(hex(RFC8032_1_PUBLIC), "public");
    expect(await b.ed25519Verify(pub, new Uint8Array(0), hex(RFC8032_1_SIG))).toBe(true);
    const tampered = hex(RFC8032_1_SIG);
    tampered[0] = (tampered[0] as number) ^ 1;
    expect(await b.ed25519Verify(pub, new Uint8Array(0), tampered)).toBe(false);
  });

  it("generates key pairs whose public half matches the seed", async () => {
    const pair = await b.ed25519Generate();
    expect(pair.seed).toHaveLength(32);
    expect(toHex(await b.ed25519PublicFromSeed(pair.seed))).toBe(toHex(pair.publicKey));
  });

  it("hashes SHA-256 (FIPS 180-2 'abc')", async () => {
    expect(toHex(await b.sha256(["a", utf8Encode("b"), "c"]))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});

describe("encoding helpers", () => {
  it("decodes hex of either case and refuses any non-hex character", () => {
    expect(toHex(decodeHex("00fFaB", 0, 3) as Uint8Array)).toBe("00ffab");
    expect(decodeHex("0g", 0, 1)).toBeUndefined();
    expect(decodeHex("0", 0, 1)).toBeUndefined();
    expect(decodeHex("é0", 0, 1)).toBeUndefined();
  });

  it("round-trips any bytes through hex and base64", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(toHex(decodeHex(toHex(bytes), 0, bytes.length) as Uint8Array)).toBe(toHex(bytes));
        expect(toHex(decodeBase64(encodeBase64(bytes)) as Uint8Array)).toBe(toHex(bytes));
      }),
    );
  });

  it("refuses base64 with foreign characters or misplaced padding", () => {
    expect(decodeBase64("ab$d")).toBeUndefined();
    expect(decodeBase64("a=bc")).toBeUndefined();
    expect(decodeBase64("abc")).toBeInstanceOf(Uint8Array);
    expect(decodeBase64("ab=")).toBeUndefined();
    expect(decodeBase64("a")).toBeUndefined();
  });
});
