import { BulwarkError } from "../core/errors.js";
import { checkKeys, configError, describe, didYouMean } from "../core/options.js";
import { concatBytes, fromUtf8, utf8 } from "./bytes.js";
import { formatEnvelope, headerBytes, KEY_ID_PATTERN, parseEnvelope } from "./envelope.js";
import { importKey, type KeyInput } from "./key.js";
import {
  aesGcmOpen,
  aesGcmSeal,
  GCM_IV_BYTES,
  importSecretKey,
  randomBytes,
  type SecretKeyHandle,
} from "./primitives.js";

const WHERE = "keyring";
const INSPECT = Symbol.for("nodejs.util.inspect.custom");

export interface KeyringKey {
  /** Stable, public name of the key, stored in every value it seals (`[A-Za-z0-9_-]{1,64}`). */
  id: string;
  /** 32 bytes: a Uint8Array, 64 hex digits or base64url. All-zero or repeated-byte keys are refused. */
  key: KeyInput;
}

export interface KeyringOptions {
  /** Every key that may have sealed a stored value, current and retired. At least one. */
  keys: readonly KeyringKey[];
  /** Id of the key new values are sealed with. Default: the only key, when there is exactly one. */
  primary?: string;
}

export interface SealOptions {
  /**
   * Additional authenticated data binding the value to where it is stored, e.g. `users:42:ssn`.
   * Required: decrypting with any other AAD fails, so a ciphertext copied to another row or column
   * is refused. Pass `""` only for a value that truly belongs nowhere in particular.
   */
  aad: string | Uint8Array;
}

/** Encrypts and decrypts field values with AES-256-GCM under a set of rotating keys. */
export interface Keyring {
  /** Id of the key new values are sealed with. */
  readonly primary: string;
  /** Ids of every key this keyring can open. */
  readonly ids: readonly string[];
  /** Seals a string (as UTF-8) or bytes; returns `bw1.<key id>.<iv>.<ciphertext‖tag>`. */
  encrypt(plaintext: string | Uint8Array, options: SealOptions): string;
  /** Opens a value sealed from a string. Throws ERR_CRYPTO_DECRYPT_FAILED on any failure. */
  decrypt(ciphertext: string, options: SealOptions): string;
  /** Opens a value and returns its bytes. Throws ERR_CRYPTO_DECRYPT_FAILED on any failure. */
  decryptBytes(ciphertext: string, options: SealOptions): Uint8Array;
  /** Seals any JSON-serialisable value (objects, arrays, numbers, booleans, null, strings). */
  encryptJson(value: unknown, options: SealOptions): string;
  /** Opens a value sealed by `encryptJson`. Throws ERR_CRYPTO_DECRYPT_FAILED on any failure. */
  decryptJson<T = unknown>(ciphertext: string, options: SealOptions): T;
  /**
   * True when the value was sealed by a key other than the primary and should be re-encrypted. Reads only the public header; throws ERR_CRYPTO_DECRYPT_FAILED for a value that is
   * not a bulwark ciphertext at all.
   */
  needsReencrypt(ciphertext: string): boolean;
  /** Re-seals a value under the primary key; returns it unchanged when it already is. */
  reencrypt(ciphertext: string, options: SealOptions): string;
}

/** The one failure of every decrypt path: same code, same message, whatever went wrong. */
export function decryptFailed(): BulwarkError {
  return new BulwarkError("ERR_CRYPTO_DECRYPT_FAILED", "decryption failed", { status: 500 });
}

function aadBytes(options: unknown): Uint8Array {
  const aad = (options as { aad?: unknown } | null | undefined)?.aad;
  if (typeof aad === "string") return utf8(aad);
  if (aad instanceof Uint8Array) return aad;
  throw new BulwarkError(
    "ERR_CRYPTO_INVALID_INPUT",
    `{ aad } must be a string or Uint8Array naming where the value is stored (e.g. "users:42:ssn"), got ${describe(aad)}`,
  );
}

/**
 * Creates a keyring: `encrypt` seals with the primary key, `decrypt` picks the key by the id stored in
 * the value, so keys rotate by adding a new primary and re-encrypting (`reencryptTable`).
 */
export function keyring(options: KeyringOptions): Keyring {
  const opts = checkKeys(WHERE, options, ["keys", "primary"]);
  const list = opts.keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw configError(WHERE, `"keys" must be a non-empty array of { id, key }, got ${describe(list)}`);
  }
  const handles = new Map<string, SecretKeyHandle>();
  const headers = new Map<string, Uint8Array>();
  const seen: Uint8Array[] = [];
  list.forEach((entry: unknown, index: number) => {
    const where = `${WHERE}: keys[${index}]`;
    const item = checkKeys(where, entry, ["id", "key"]);
    if (typeof item.id !== "string" || !KEY_ID_PATTERN.test(item.id)) {
      throw configError(where, `"id" must match ${KEY_ID_PATTERN}, got ${describe(item.id)}`);
    }
    if (handles.has(item.id)) throw configError(where, `duplicate key id "${item.id}"`);
    const bytes = importKey(where, "key", item.key);
    if (seen.some((other) => other.every((b, i) => b === bytes[i]))) {
      throw configError(
        where,
        `key "${item.id}" repeats the material of another key; each id needs its own key`,
      );
    }
    seen.push(bytes);
    handles.set(item.id, importSecretKey(bytes));
    headers.set(item.id, headerBytes(item.id));
  });
  const ids = Object.freeze([...handles.keys()]);
  let primary: string;
  if (opts.primary === undefined) {
    if (ids.length !== 1) throw configError(WHERE, `"primary" is required when there is more than one key`);
    primary = ids[0]!;
  } else if (typeof opts.primary !== "string" || !handles.has(opts.primary)) {
    const hint = typeof opts.primary === "string" ? didYouMean(opts.primary, ids) : undefined;
    throw configError(
      WHERE,
      `"primary" must be one of the key ids (${ids.map((id) => `"${id}"`).join(", ")})${hint ? ` — did you mean "${hint}"?` : ""}`,
    );
  } else {
    primary = opts.primary;
  }
  const primaryHandle = handles.get(primary)!;
  const primaryHeader = headers.get(primary)!;

  function seal(plaintext: Uint8Array, options: SealOptions): string {
    const aad = concatBytes(primaryHeader, aadBytes(options));
    const iv = randomBytes(GCM_IV_BYTES);
    return formatEnvelope(primary, iv, aesGcmSeal(primaryHandle, iv, plaintext, aad));
  }

  function open(ciphertext: string, options: SealOptions): Uint8Array {
    const aad = aadBytes(options);
    const envelope = parseEnvelope(ciphertext);
    const handle = envelope && handles.get(envelope.keyId);
    if (!envelope || !handle) throw decryptFailed();
    const plaintext = aesGcmOpen(
      handle,
      envelope.iv,
      envelope.sealed,
      concatBytes(headers.get(envelope.keyId)!, aad),
    );
    if (!plaintext) throw decryptFailed();
    return plaintext;
  }

  function encrypt(plaintext: string | Uint8Array, options: SealOptions): string {
    if (typeof plaintext === "string") return seal(utf8(plaintext), options);
    if (plaintext instanceof Uint8Array) return seal(plaintext, options);
    throw new BulwarkError(
      "ERR_CRYPTO_INVALID_INPUT",
      `encrypt() takes a string or Uint8Array, got ${describe(plaintext)}; use encryptJson() for other values`,
    );
  }

  function decrypt(ciphertext: string, options: SealOptions): string {
    const text = fromUtf8(open(ciphertext, options));
    if (text === undefined) throw decryptFailed();
    return text;
  }

  function encryptJson(value: unknown, options: SealOptions): string {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      json = undefined;
    }
    if (json === undefined) {
      throw new BulwarkError(
        "ERR_CRYPTO_INVALID_INPUT",
        `encryptJson() takes a JSON-serialisable value, got ${describe(value)} that JSON.stringify refuses`,
      );
    }
    return seal(utf8(json), options);
  }

  function decryptJson<T>(ciphertext: string, options: SealOptions): T {
    const text = decrypt(ciphertext, options);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw decryptFailed();
    }
  }

  function needsReencrypt(ciphertext: string): boolean {
    const envelope = parseEnvelope(ciphertext);
    if (!envelope) throw decryptFailed();
    return envelope.keyId !== primary;
  }

  function reencrypt(ciphertext: string, options: SealOptions): string {
    if (!needsReencrypt(ciphertext)) return ciphertext;
    return seal(open(ciphertext, options), options);
  }

  const summary = () => ({ primary, ids: [...ids] });
  return Object.freeze({
    primary,
    ids,
    encrypt,
    decrypt,
    decryptBytes: open,
    encryptJson,
    decryptJson,
    needsReencrypt,
    reencrypt,
    toJSON: summary,
    [INSPECT]: () => `Keyring ${JSON.stringify(summary())}`,
  });
}
