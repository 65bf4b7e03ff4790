import { inspect } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BulwarkError } from "../core/errors.js";
import { toBase64url, toHex, utf8 } from "./bytes.js";
import { generateKey } from "./key.js";
import { keyring } from "./keyring.js";

const KEY_A = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const KEY_B = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);
const ENVELOPE = /^bw1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]+)$/;

function thrown(fn: () => unknown): BulwarkError {
  try {
    fn();
  } catch (error) {
    if (error instanceof BulwarkError) return error;
    throw error;
  }
  throw new Error("expected a BulwarkError, nothing was thrown");
}

function expectDecryptFailed(fn: () => unknown): void {
  const error = thrown(fn);
  expect(error.code).toBe("ERR_CRYPTO_DECRYPT_FAILED");
  expect(error.message).toBe("decryption failed");
}

describe("keyring encrypt/decrypt", () => {
  const ring = keyring({ keys: [{ id: "k1", key: KEY_A }], primary: "k1" });

  it("produces bw1.<key id>.<96-bit iv>.<ciphertext‖tag> in base64url", () => {
    const value = ring.encrypt("123-45-6789", { aad: "users:42:ssn" });
    const match = ENVELOPE.exec(value);
    expect(match?.[1]).toBe("k1");
    expect(Buffer.from(match![2]!, "base64url").byteLength).toBe(12);
    expect(Buffer.from(match![3]!, "base64url").byteLength).toBe(utf8("123-45-6789").byteLength + 16);
    expect(value).not.toContain("123-45-6789");
  });

  it("uses a fresh random IV each time, so equal plaintexts give different ciphertexts", () => {
    const values = new Set(Array.from({ length: 200 }, () => ring.encrypt("same", { aad: "a" })));
    const ivs = new Set([...values].map((v) => v.split(".")[2]));
    expect(values.size).toBe(200);
    expect(ivs.size).toBe(200);
  });

  it("round-trips any string, any bytes and any JSON value", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string(), (text, aad) => {
        expect(ring.decrypt(ring.encrypt(text, { aad }), { aad })).toBe(text);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array(), fc.uint8Array(), (bytes, aad) => {
        expect(ring.decryptBytes(ring.encrypt(bytes, { aad }), { aad })).toEqual(bytes);
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const aad = "orders:7:meta";
        expect(ring.decryptJson(ring.encryptJson(value, { aad }), { aad })).toEqual(
          JSON.parse(JSON.stringify(value)),
        );
      }),
    );
  });

  it("fails on every single flipped bit of stored values of every length class", () => {
    const aad = "users:42:ssn";
    for (const plaintext of ["", "1", "12", "123", "1234", "12345", "123-45-6789", "x".repeat(47)]) {
      const stored = utf8(ring.encrypt(plaintext, { aad }));
      for (let bit = 0; bit < stored.byteLength * 8; bit++) {
        const tampered = stored.slice();
        tampered[bit >> 3]! ^= 1 << (bit & 7);
        expectDecryptFailed(() => ring.decrypt(new TextDecoder().decode(tampered), { aad }));
      }
    }
  });

  it("fails on any single flipped bit of the stored value (random plaintexts)", () => {
    const aad = "users:42:ssn";
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.nat(), (plaintext, seed) => {
        const stored = utf8(ring.encrypt(plaintext, { aad }));
        const bit = seed % (stored.byteLength * 8);
        const tampered = stored.slice();
        tampered[bit >> 3]! ^= 1 << (bit & 7);
        const text = new TextDecoder().decode(tampered);
        expectDecryptFailed(() => ring.decrypt(text, { aad }));
      }),
      { numRuns: 500 },
    );
  });

  it("fails when the AAD differs in any way", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (aad, other) => {
        fc.pre(aad !== other);
        const value = ring.encrypt("secret", { aad });
        expectDecryptFailed(() => ring.decrypt(value, { aad: other }));
      }),
    );
  });

  it("refuses a ciphertext copied to another row or another column", () => {
    const alice = ring.encrypt("111-11-1111", { aad: "users:1:ssn" });
    expectDecryptFailed(() => ring.decrypt(alice, { aad: "users:2:ssn" }));
    expectDecryptFailed(() => ring.decrypt(alice, { aad: "users:1:ein" }));
    expect(ring.decrypt(alice, { aad: "users:1:ssn" })).toBe("111-11-1111");
  });

  it("treats string and byte AAD with the same UTF-8 bytes as the same binding", () => {
    const value = ring.encrypt("x", { aad: "users:1:ssn" });
    expect(ring.decrypt(value, { aad: utf8("users:1:ssn") })).toBe("x");
  });

  it("gives the same error for malformed, unknown-key, truncated, wrong-AAD and tampered values", () => {
    const aad = "t:1:c";
    const good = ring.encrypt("hello", { aad });
    const other = keyring({ keys: [{ id: "k9", key: KEY_B }] }).encrypt("hello", { aad });
    const [v, id, iv, body] = good.split(".") as [string, string, string, string];
    const cases = [
      "",
      "not a ciphertext",
      `bw2.${id}.${iv}.${body}`,
      `${v}.${id}.${iv}`,
      `${v}.${id}.${iv.slice(1)}.${body}`,
      `${v}.${id}.${iv}.${body.slice(0, -2)}`,
      `${v}.k2.${iv}.${body}`,
      other,
      `${good} `,
      good.replace(/\./g, ":"),
    ];
    for (const value of cases) expectDecryptFailed(() => ring.decrypt(value, { aad }));
    expectDecryptFailed(() => ring.decrypt(good, { aad: "t:1:d" }));
    expectDecryptFailed(() => ring.decrypt(42 as unknown as string, { aad }));
  });

  it("refuses bytes that are not UTF-8 when asked for a string, and non-JSON when asked for JSON", () => {
    const binary = ring.encrypt(Uint8Array.of(0xff, 0xfe, 0xfd), { aad: "a" });
    expectDecryptFailed(() => ring.decrypt(binary, { aad: "a" }));
    expect(ring.decryptBytes(binary, { aad: "a" })).toEqual(Uint8Array.of(0xff, 0xfe, 0xfd));
    const text = ring.encrypt("not json {", { aad: "a" });
    expectDecryptFailed(() => ring.decryptJson(text, { aad: "a" }));
  });

  it("requires an AAD on every call (ERR_CRYPTO_INVALID_INPUT)", () => {
    const value = ring.encrypt("x", { aad: "" });
    for (const call of [
      () => ring.encrypt("x", undefined as never),
      () => ring.encrypt("x", {} as never),
      () => ring.encrypt("x", { aad: 7 } as never),
      () => ring.decrypt(value, {} as never),
    ]) {
      expect(thrown(call).code).toBe("ERR_CRYPTO_INVALID_INPUT");
    }
  });

  it("refuses plaintexts that are neither string nor bytes, and JSON it cannot serialise", () => {
    expect(thrown(() => ring.encrypt(12 as never, { aad: "a" })).code).toBe("ERR_CRYPTO_INVALID_INPUT");
    expect(thrown(() => ring.encryptJson(undefined, { aad: "a" })).code).toBe("ERR_CRYPTO_INVALID_INPUT");
    expect(thrown(() => ring.encryptJson(10n, { aad: "a" })).code).toBe("ERR_CRYPTO_INVALID_INPUT");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(thrown(() => ring.encryptJson(cyclic, { aad: "a" })).code).toBe("ERR_CRYPTO_INVALID_INPUT");
  });
});

describe("keyring rotation", () => {
  const old = keyring({ keys: [{ id: "2025", key: KEY_A }] });
  const rotated = keyring({
    keys: [
      { id: "2025", key: KEY_A },
      { id: "2026", key: KEY_B },
    ],
    primary: "2026",
  });

  it("decrypts values sealed under a retired key by the id stored in them", () => {
    const value = old.encrypt("card", { aad: "a" });
    expect(rotated.decrypt(value, { aad: "a" })).toBe("card");
    expect(rotated.encrypt("card", { aad: "a" }).startsWith("bw1.2026.")).toBe(true);
  });

  it("needsReencrypt is true only for values not under the primary key", () => {
    expect(rotated.needsReencrypt(old.encrypt("x", { aad: "a" }))).toBe(true);
    expect(rotated.needsReencrypt(rotated.encrypt("x", { aad: "a" }))).toBe(false);
    expectDecryptFailed(() => rotated.needsReencrypt("plaintext"));
  });

  it("reencrypt re-seals under the primary once and leaves primary values untouched", () => {
    const value = old.encrypt("x", { aad: "a" });
    const again = rotated.reencrypt(value, { aad: "a" });
    expect(again.startsWith("bw1.2026.")).toBe(true);
    expect(rotated.decrypt(again, { aad: "a" })).toBe("x");
    expect(rotated.reencrypt(again, { aad: "a" })).toBe(again);
    expectDecryptFailed(() => rotated.reencrypt(value, { aad: "b" }));
  });

  it("can no longer open a value whose key was dropped from the keyring", () => {
    const only2026 = keyring({ keys: [{ id: "2026", key: KEY_B }] });
    expectDecryptFailed(() => only2026.decrypt(old.encrypt("x", { aad: "a" }), { aad: "a" }));
  });
});

describe("keyring key material", () => {
  it("accepts the same key as bytes, hex, base64url and base64", () => {
    const sealed = keyring({ keys: [{ id: "k", key: KEY_A }] }).encrypt("v", { aad: "a" });
    for (const key of [
      toHex(KEY_A),
      toHex(KEY_A).toUpperCase(),
      toBase64url(KEY_A),
      Buffer.from(KEY_A).toString("base64"),
    ]) {
      expect(keyring({ keys: [{ id: "k", key }] }).decrypt(sealed, { aad: "a" })).toBe("v");
    }
    expect(generateKey()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(keyring({ keys: [{ id: "g", key: generateKey() }] }).primary).toBe("g");
  });

  it("copies the key, so wiping the caller's buffer later changes nothing", () => {
    const key = KEY_A.slice();
    const ring = keyring({ keys: [{ id: "k", key }] });
    const sealed = ring.encrypt("v", { aad: "a" });
    key.fill(0);
    expect(ring.decrypt(sealed, { aad: "a" })).toBe("v");
  });

  it("does not mutate the options object", () => {
    const options = { keys: [{ id: "k", key: KEY_A }] };
    const snapshot = JSON.stringify(options);
    keyring(options);
    expect(JSON.stringify(options)).toBe(snapshot);
  });

  it("never shows key material when inspected or serialised", () => {
    const ring = keyring({ keys: [{ id: "k", key: toHex(KEY_A) }] });
    const shown = `${inspect(ring, { showHidden: true, depth: 5 })} ${JSON.stringify(ring)}`;
    expect(shown).toContain('"primary":"k"');
    expect(shown).not.toContain(toHex(KEY_A));
    expect(shown).not.toContain(toBase64url(KEY_A));
  });

  const refusals: Array<[string, unknown, RegExp]> = [
    ["options that are not an object", "k", /expected an options object/],
    [
      "an unknown option, with a hint",
      { keys: [{ id: "k", key: KEY_A }], primery: "k" },
      /did you mean "primary"/,
    ],
    ["missing keys", {}, /"keys" must be a non-empty array/],
    ["an empty key list", { keys: [] }, /"keys" must be a non-empty array/],
    [
      "a key entry with an unknown field",
      { keys: [{ id: "k", key: KEY_A, kid: 1 }] },
      /unknown option "kid"/,
    ],
    ["a key id with a dot", { keys: [{ id: "k.1", key: KEY_A }] }, /"id" must match/],
    ["an empty key id", { keys: [{ id: "", key: KEY_A }] }, /"id" must match/],
    [
      "duplicate ids",
      {
        keys: [
          { id: "k", key: KEY_A },
          { id: "k", key: KEY_B },
        ],
      },
      /duplicate key id "k"/,
    ],
    [
      "the same material under two ids",
      {
        keys: [
          { id: "a", key: KEY_A },
          { id: "b", key: toHex(KEY_A) },
        ],
        primary: "a",
      },
      /repeats the material/,
    ],
    [
      "a 16-byte key",
      { keys: [{ id: "k", key: new Uint8Array(16).fill(7).map((x, i) => x + i) }] },
      /exactly 32 bytes, got 16/,
    ],
    ["a 33-byte hex key", { keys: [{ id: "k", key: `${toHex(KEY_A)}ff` }] }, /exactly 32 bytes, got 33/],
    ["an all-zero key", { keys: [{ id: "k", key: new Uint8Array(32) }] }, /all zeros or one repeated byte/],
    ["an all-zero hex key", { keys: [{ id: "k", key: "0".repeat(64) }] }, /all zeros/],
    ["a repeated-byte key", { keys: [{ id: "k", key: new Uint8Array(32).fill(0x41) }] }, /one repeated byte/],
    [
      "a key that is no encoding",
      { keys: [{ id: "k", key: "correct horse battery staple!" }] },
      /in no such encoding/,
    ],
    ["a key that is a number", { keys: [{ id: "k", key: 42 }] }, /got a number/],
    [
      "no primary among several keys",
      {
        keys: [
          { id: "a", key: KEY_A },
          { id: "b", key: KEY_B },
        ],
      },
      /"primary" is required/,
    ],
    [
      "an unknown primary, with a hint",
      { keys: [{ id: "main", key: KEY_A }], primary: "mian" },
      /did you mean "main"/,
    ],
  ];

  it.each(refusals)("refuses %s with ERR_CONFIG_INVALID", (_, options, message) => {
    const error = thrown(() => keyring(options as never));
    expect(error.code).toBe("ERR_CONFIG_INVALID");
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(toHex(KEY_A));
  });
});
