/**
 * Field encryption cost. bulwark's keyring (sync node:crypto, envelope formatting, AAD binding) is
 * measured against the raw primitive it wraps (node:crypto AES-256-GCM with no envelope) and against
 * the same work done through Web Crypto (`crypto.subtle`), the alternative design it decided against.
 */
import { createCipheriv, createDecipheriv, randomBytes, webcrypto } from "node:crypto";
import { blindIndex } from "../src/crypto/blind-index.js";
import { keyring } from "../src/crypto/keyring.js";
import { type BenchRow, type BenchSuite, compare } from "./lib.js";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 7) & 0xff);
const SSN = "123-45-6789";
const AAD = "users:42:ssn";
const BATCH = 200;

export const suite: BenchSuite = {
  name: "crypto",
  async run({ quick }) {
    const timing = quick ? { rounds: 1, ms: 60 } : { rounds: 5, ms: 400 };
    const ring = keyring({ keys: [{ id: "k1", key: KEY }] });
    const sealed = ring.encrypt(SSN, { aad: AAD });
    const aadBytes = new TextEncoder().encode(AAD);
    const plainBytes = new TextEncoder().encode(SSN);
    const subtleKey = await webcrypto.subtle.importKey("raw", KEY, "AES-GCM", false, ["encrypt", "decrypt"]);

    const rawEncrypt = () => {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", KEY, iv);
      cipher.setAAD(aadBytes);
      const out = Buffer.concat([iv, cipher.update(plainBytes), cipher.final(), cipher.getAuthTag()]);
      return out.toString("base64url");
    };
    const rawSealed = Buffer.from(rawEncrypt(), "base64url");
    const rawDecrypt = () => {
      const decipher = createDecipheriv("aes-256-gcm", KEY, rawSealed.subarray(0, 12));
      decipher.setAAD(aadBytes);
      decipher.setAuthTag(rawSealed.subarray(rawSealed.length - 16));
      return Buffer.concat([
        decipher.update(rawSealed.subarray(12, rawSealed.length - 16)),
        decipher.final(),
      ]).toString();
    };
    const subtleEncrypt = async () => {
      const iv = webcrypto.getRandomValues(new Uint8Array(12));
      const out = await webcrypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: aadBytes },
        subtleKey,
        plainBytes,
      );
      return Buffer.from(out).toString("base64url");
    };
    const subtleSealed = await webcrypto.subtle.encrypt(
      { name: "AES-GCM", iv: new Uint8Array(12).fill(1), additionalData: aadBytes },
      subtleKey,
      plainBytes,
    );
    const subtleDecrypt = async () =>
      new TextDecoder().decode(
        await webcrypto.subtle.decrypt(
          { name: "AES-GCM", iv: new Uint8Array(12).fill(1), additionalData: aadBytes },
          subtleKey,
          subtleSealed,
        ),
      );

    const loop = (fn: () => unknown) => () => {
      for (let i = 0; i < BATCH; i++) fn();
    };
    const loopAsync = (fn: () => Promise<unknown>) => async () => {
      for (let i = 0; i < BATCH; i++) await fn();
    };

    const enc = await compare(
      {
        bulwark: { batch: loop(() => ring.encrypt(SSN, { aad: AAD })), opsPerBatch: BATCH },
        raw: { batch: loop(rawEncrypt), opsPerBatch: BATCH },
        subtle: { batch: loopAsync(subtleEncrypt), opsPerBatch: BATCH },
      },
      timing,
    );
    const dec = await compare(
      {
        bulwark: { batch: loop(() => ring.decrypt(sealed, { aad: AAD })), opsPerBatch: BATCH },
        raw: { batch: loop(rawDecrypt), opsPerBatch: BATCH },
        subtle: { batch: loopAsync(subtleDecrypt), opsPerBatch: BATCH },
      },
      timing,
    );
    const index = blindIndex({ key: KEY.map((b) => b ^ 0x5c), normalize: (s) => s.replace(/\D/g, "") });
    const bi = await compare({ bulwark: { batch: loop(() => index(SSN)), opsPerBatch: BATCH } }, timing);

    const rows: BenchRow[] = [];
    for (const [name, figures] of [
      ["encrypt 11-byte field", enc],
      ["decrypt 11-byte field", dec],
    ] as const) {
      rows.push(
        {
          suite: "crypto",
          case: `${name}: ops/s`,
          subject: "bulwark keyring",
          value: figures.bulwark!,
          unit: "ops/s",
        },
        {
          suite: "crypto",
          case: `${name}: ops/s`,
          subject: "node:crypto raw AES-GCM",
          value: figures.raw!,
          unit: "ops/s",
          ratio: figures.bulwark! / figures.raw!,
          target: "≥ 0.5× raw node:crypto",
          pass: figures.bulwark! / figures.raw! >= 0.5,
        },
        {
          suite: "crypto",
          case: `${name}: ops/s`,
          subject: "Web Crypto subtle",
          value: figures.subtle!,
          unit: "ops/s",
          ratio: figures.bulwark! / figures.subtle!,
          target: "≥ 1.0× Web Crypto",
          pass: figures.bulwark! / figures.subtle! >= 1,
        },
      );
    }
    rows.push({
      suite: "crypto",
      case: "blind index (HMAC-SHA256): ops/s",
      subject: "bulwark",
      value: bi.bulwark!,
      unit: "ops/s",
    });
    return rows;
  },
};
