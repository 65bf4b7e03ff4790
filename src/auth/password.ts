import { availableParallelism } from "node:os";
import { BulwarkError } from "../core/errors.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { boolean, checkKeys, configError, integer } from "../core/options.js";
import { randomToken } from "./secrets.js";

/**
 * Password hashing: argon2id (through @node-rs/argon2, which runs on libuv's thread pool) with
 * OWASP's parameters, bcrypt hashes accepted for migration, a hard length cap checked before any
 * work, and a concurrency bound with a bounded queue so a credential-stuffing flood turns into fast
 * 503s instead of unbounded memory, latency and thread-pool starvation.
 */

/** Longest password accepted, in UTF-8 bytes. Longer ones are refused before hashing. */
export const MAX_PASSWORD_BYTES = 1024;

/** OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1. */
export const OWASP_ARGON2ID = Object.freeze({ memoryCostKiB: 19456, timeCost: 2, parallelism: 1 });

const ARGON2ID = 2; // @node-rs/argon2 Algorithm.Argon2id (a const enum, so not importable at runtime)
const V0X13 = 1; // @node-rs/argon2 Version.V0x13
const OUTPUT_BYTES = 32;

/** The result of a password check. `needsRehash`: store a fresh `hash(password)` now (only when ok). */
export interface PasswordCheck {
  readonly ok: boolean;
  readonly needsRehash: boolean;
}

export interface PasswordHasherOptions {
  /** argon2id memory per hash in KiB (default 19456, OWASP). */
  memoryCostKiB?: number;
  /** argon2id passes (default 2, OWASP). */
  timeCost?: number;
  /** argon2id lanes (default 1, OWASP). */
  parallelism?: number;
  /**
   * Hashes and verifications running at once (default: available CPUs, at most libuv's thread-pool
   * size − 1 so file system and DNS work keep a thread). Each running hash holds `memoryCostKiB`.
   */
  concurrency?: number;
  /** Calls allowed to wait for a slot; beyond it calls fail fast with ERR_PASSWORD_HASHER_BUSY (default 16 × concurrency). */
  maxQueue?: number;
  /** Queue places one client key may hold (default max(1, maxQueue / 4)); see `HashCallOptions.key`. */
  maxQueuedPerKey?: number;
  /**
   * Allows argon2 costs below OWASP's equivalence table (m ≥ 7 MiB and m × t ≥ 35840 KiB). For
   * test suites only; logs a warning once.
   */
  dangerouslyAllowWeakParameters?: boolean;
  /** Where the warning above goes (default: consoleLogger). */
  logger?: Logger;
}

export interface PasswordHasherStats {
  readonly concurrency: number;
  readonly maxQueue: number;
  readonly maxQueuedPerKey: number;
  /** Calls running now. */
  readonly active: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
  /** Calls refused with ERR_PASSWORD_HASHER_BUSY since creation. */
  readonly rejected: number;
}

/** Per-call options of the hasher. */
export interface HashCallOptions {
  /**
   * The client this work is for (e.g. its IP). Waiting calls are served round-robin across keys and
   * each key holds at most `maxQueuedPerKey` queue places, so one source cannot fill the queue.
   * Calls without a key share one lane limited only by `maxQueue`.
   */
  key?: string;
}

export interface PasswordHasher {
  /** Hashes a new password (argon2id, PHC string). Throws ERR_PASSWORD_TOO_LONG / _INVALID / _HASHER_BUSY. */
  hash(password: string, options?: HashCallOptions): Promise<string>;
  /**
   * Checks `password` against a stored argon2 or bcrypt hash. With no hash (`undefined`, `null`,
   * `""`: unknown account, or one without a password) it runs the dummy verification and answers
   * `{ ok: false }` after the same work, so timing does not reveal which accounts exist.
   */
  verify(
    hash: string | null | undefined,
    password: string,
    options?: HashCallOptions,
  ): Promise<PasswordCheck>;
  /** The dummy verification on its own: same cost as a real one, always `{ ok: false }`. */
  verifyUnknownAccount(password?: string, options?: HashCallOptions): Promise<PasswordCheck>;
  /** Whether a stored hash differs from the current parameters (any bcrypt hash does). */
  needsRehash(hash: string): boolean;
  stats(): PasswordHasherStats;
}

type Argon2Module = typeof import("@node-rs/argon2");
type BcryptModule = typeof import("bcryptjs");

let argon2Module: Promise<Argon2Module> | undefined;
let bcryptModule: Promise<BcryptModule> | undefined;

function loadArgon2(): Promise<Argon2Module> {
  argon2Module ??= import("@node-rs/argon2").catch((cause: unknown) => {
    argon2Module = undefined;
    throw new BulwarkError(
      "ERR_CONFIG_INVALID",
      "bulwark/auth needs @node-rs/argon2: npm i @node-rs/argon2",
      {
        cause,
      },
    );
  });
  return argon2Module;
}

function loadBcrypt(): Promise<BcryptModule> {
  bcryptModule ??= import("bcryptjs").catch((cause: unknown) => {
    bcryptModule = undefined;
    throw new BulwarkError("ERR_CONFIG_INVALID", "verifying bcrypt hashes needs bcryptjs: npm i bcryptjs", {
      cause,
    });
  });
  return bcryptModule;
}

const encoder = new TextEncoder();

/** Throws unless `password` is a string of at most MAX_PASSWORD_BYTES UTF-8 bytes. */
function checkPassword(password: unknown): asserts password is string {
  if (typeof password !== "string") {
    throw new BulwarkError("ERR_PASSWORD_INVALID", "password must be a string", { status: 400 });
  }
  // UTF-8 needs at least one and at most three bytes per UTF-16 unit: decide cheaply when possible.
  if (password.length * 3 <= MAX_PASSWORD_BYTES) return;
  if (password.length > MAX_PASSWORD_BYTES || encoder.encode(password).length > MAX_PASSWORD_BYTES) {
    throw new BulwarkError("ERR_PASSWORD_TOO_LONG", `password exceeds ${MAX_PASSWORD_BYTES} bytes`, {
      status: 400,
    });
  }
}

const PHC_RE =
  /^\$(argon2id|argon2i|argon2d)\$(?:v=(\d+)\$)?m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const BCRYPT_RE = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** The parameters encoded in an argon2 PHC string, or undefined when it is not one. */
export function parseArgon2Hash(hash: string):
  | {
      variant: "argon2id" | "argon2i" | "argon2d";
      version: number;
      memoryCostKiB: number;
      timeCost: number;
      parallelism: number;
      saltBytes: number;
      outputBytes: number;
    }
  | undefined {
  const m = PHC_RE.exec(hash);
  if (m === null) return undefined;
  const b64bytes = (s: string) => Math.floor((s.length * 3) / 4);
  return {
    variant: m[1] as "argon2id" | "argon2i" | "argon2d",
    version: m[2] === undefined ? 0x10 : Number(m[2]),
    memoryCostKiB: Number(m[3]),
    timeCost: Number(m[4]),
    parallelism: Number(m[5]),
    saltBytes: b64bytes(m[6] as string),
    outputBytes: b64bytes(m[7] as string),
  };
}

function keyOf(options: HashCallOptions | undefined): string {
  const key = options?.key;
  return typeof key === "string" ? key : "";
}

function defaultConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(availableParallelism(), pool - 1));
}

/**
 * Creates a password hasher with its own concurrency bound. Create one per process and share it:
 * the bound only protects what goes through it.
 */
export function passwordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const where = "passwordHasher";
  const o = checkKeys(where, options, [
    "memoryCostKiB",
    "timeCost",
    "parallelism",
    "concurrency",
    "maxQueue",
    "maxQueuedPerKey",
    "dangerouslyAllowWeakParameters",
    "logger",
  ]);
  const weakAllowed = boolean(
    where,
    "dangerouslyAllowWeakParameters",
    o.dangerouslyAllowWeakParameters,
    false,
  );
  const parallelism = integer(where, "parallelism", o.parallelism, OWASP_ARGON2ID.parallelism, {
    min: 1,
    max: 16,
  });
  const memoryCostKiB = integer(where, "memoryCostKiB", o.memoryCostKiB, OWASP_ARGON2ID.memoryCostKiB, {
    min: 8 * parallelism,
    max: 4 * 1024 * 1024,
  });
  const timeCost = integer(where, "timeCost", o.timeCost, OWASP_ARGON2ID.timeCost, { min: 1, max: 64 });
  const concurrency = integer(where, "concurrency", o.concurrency, defaultConcurrency(), {
    min: 1,
    max: 1024,
  });
  const maxQueue = integer(where, "maxQueue", o.maxQueue, 16 * concurrency, { min: 0, max: 1_000_000 });
  const maxQueuedPerKey = integer(
    where,
    "maxQueuedPerKey",
    o.maxQueuedPerKey,
    Math.max(1, Math.floor(maxQueue / 4)),
    { min: 1, max: Math.max(1, maxQueue) },
  );
  const logger = (o.logger as Logger | undefined) ?? consoleLogger;

  // OWASP lists equivalent argon2id configurations from m=47104,t=1 down to m=7168,t=5; all have
  // m ≥ 7168 KiB and m·t ≥ 35840 KiB. Anything below is weaker than every one of them.
  const weak = memoryCostKiB < 7168 || memoryCostKiB * timeCost < 35840;
  if (weak && !weakAllowed) {
    throw configError(
      where,
      `argon2id m=${memoryCostKiB} KiB, t=${timeCost} is weaker than OWASP's minimum (m ≥ 7168 KiB and m × t ≥ 35840); use the defaults (m=19456, t=2)`,
    );
  }
  if (weak) {
    logger.warn(
      { code: "ERR_CONFIG_INVALID", memoryCostKiB, timeCost },
      "passwordHasher: dangerouslyAllowWeakParameters is set; argon2 costs are below OWASP's minimum (tests only)",
    );
  }

  const hashOptions = {
    algorithm: ARGON2ID,
    version: V0X13,
    memoryCost: memoryCostKiB,
    timeCost,
    parallelism,
    outputLen: OUTPUT_BYTES,
  } as const;

  // Bounded, fair gate: `concurrency` slots run; up to `maxQueue` callers wait, at most
  // `maxQueuedPerKey` per client key. A freed slot goes to the next key in round-robin order (FIFO
  // within a key). When the queue is full, a newcomer from a key holding fewer places pushes out the
  // newest waiter of the key holding the most (longest-queue drop), so a flood from a few sources
  // can neither fill the queue nor starve everyone else. The rest fail fast.
  interface Waiter {
    resolve(): void;
    reject(error: Error): void;
  }
  let active = 0;
  let queued = 0;
  let rejected = 0;
  const queues = new Map<string, Waiter[]>();
  const turns: string[] = []; // keys with waiters, in round-robin order

  function busy(): BulwarkError {
    rejected++;
    return new BulwarkError("ERR_PASSWORD_HASHER_BUSY", "password hasher is at capacity", {
      status: 503,
      details: { concurrency, maxQueue, maxQueuedPerKey },
    });
  }

  function dropKey(key: string): void {
    queues.delete(key);
    const at = turns.indexOf(key);
    if (at !== -1) turns.splice(at, 1);
  }

  /** Makes room for a caller of a key holding `own` places; false when it has no better claim. */
  function pushOut(own: number): boolean {
    let victim: string | undefined;
    let longest = 0;
    for (const [key, queue] of queues) {
      if (queue.length > longest) {
        victim = key;
        longest = queue.length;
      }
    }
    if (victim === undefined || longest <= own + 1) return false;
    const queue = queues.get(victim) as Waiter[];
    const dropped = queue.pop() as Waiter;
    if (queue.length === 0) dropKey(victim);
    queued--;
    dropped.reject(busy());
    return true;
  }

  async function gated<T>(key: string, work: () => Promise<T>): Promise<T> {
    if (active < concurrency) {
      active++;
    } else {
      const own = queues.get(key)?.length ?? 0;
      const cap = key === "" ? maxQueue : maxQueuedPerKey;
      if (own >= cap || (queued >= maxQueue && !pushOut(own))) throw busy();
      queued++;
      await new Promise<void>((resolve, reject) => {
        const waiter = { resolve, reject };
        const queue = queues.get(key);
        if (queue === undefined) {
          queues.set(key, [waiter]);
          turns.push(key);
        } else {
          queue.push(waiter);
        }
      });
    }
    try {
      return await work();
    } finally {
      const key = turns.shift();
      if (key === undefined) {
        active--;
      } else {
        const queue = queues.get(key) as Waiter[];
        const next = queue.shift() as Waiter;
        if (queue.length === 0) queues.delete(key);
        else turns.push(key);
        queued--;
        next.resolve(); // hand the slot over without releasing it
      }
    }
  }

  let dummy: Promise<string> | undefined;
  function dummyHash(): Promise<string> {
    dummy ??= loadArgon2()
      .then((argon2) => argon2.hash(randomToken(), hashOptions))
      .catch((error: unknown) => {
        dummy = undefined;
        throw error;
      });
    return dummy;
  }

  // Prepared now, off the request path, so the first unknown-account login costs the same as the rest.
  dummyHash().catch(() => {});

  function needsRehash(hash: string): boolean {
    if (BCRYPT_RE.test(hash)) return true;
    const p = parseArgon2Hash(hash);
    if (p === undefined) return true;
    return (
      p.variant !== "argon2id" ||
      p.version !== 0x13 ||
      p.memoryCostKiB !== memoryCostKiB ||
      p.timeCost !== timeCost ||
      p.parallelism !== parallelism ||
      p.outputBytes < OUTPUT_BYTES ||
      p.saltBytes < 16
    );
  }

  function unsupported(cause?: unknown): BulwarkError {
    return new BulwarkError(
      "ERR_PASSWORD_HASH_UNSUPPORTED",
      "stored password hash is neither an argon2 PHC string nor a bcrypt $2a$/$2b$/$2y$ hash",
      { status: 500, cause },
    );
  }

  // Every public call enters the gate synchronously (before its first await), so admission is
  // decided in call order and a refusal costs nothing but the check. Known and unknown accounts
  // take the same path: the unknown one simply verifies against the dummy hash.
  async function verifyAny(hash: string | undefined, password: string, key: string): Promise<PasswordCheck> {
    checkPassword(password);
    if (hash !== undefined && !hash.startsWith("$argon2")) {
      if (!BCRYPT_RE.test(hash)) throw unsupported();
      const ok = await gated(key, async () => (await loadBcrypt()).compare(password, hash));
      return ok ? { ok: true, needsRehash: true } : FAILED;
    }
    if (hash !== undefined && parseArgon2Hash(hash) === undefined) throw unsupported();
    const ok = await gated(key, async () => {
      const argon2 = await loadArgon2();
      const stored = await (hash ?? dummyHash());
      try {
        return await argon2.verify(stored, password);
      } catch (cause) {
        throw unsupported(cause);
      }
    });
    return ok && hash !== undefined ? { ok: true, needsRehash: needsRehash(hash) } : FAILED;
  }

  function verifyUnknownAccount(password?: string, options?: HashCallOptions): Promise<PasswordCheck> {
    return verifyAny(undefined, password === undefined ? randomToken() : password, keyOf(options));
  }

  return {
    async hash(password, options) {
      checkPassword(password);
      return gated(keyOf(options), async () => (await loadArgon2()).hash(password, hashOptions));
    },

    verify(hash, password, options) {
      const key = keyOf(options);
      if (hash === undefined || hash === null || hash === "") return verifyAny(undefined, password, key);
      if (typeof hash !== "string") return Promise.reject(unsupported());
      return verifyAny(hash, password, key);
    },

    verifyUnknownAccount,
    needsRehash,

    stats: () => ({ concurrency, maxQueue, maxQueuedPerKey, active, queued, rejected }),
  };
}

const FAILED: PasswordCheck = Object.freeze({ ok: false, needsRehash: false });

let defaultHasher: PasswordHasher | undefined;

/** The process-wide hasher behind `hashPassword` / `verifyPassword` (default options). */
export function defaultPasswordHasher(): PasswordHasher {
  defaultHasher ??= passwordHasher();
  return defaultHasher;
}

/** Hashes a password with argon2id (OWASP parameters) under the process-wide concurrency bound. */
export function hashPassword(password: string, options?: HashCallOptions): Promise<string> {
  return defaultPasswordHasher().hash(password, options);
}

/**
 * Verifies a password against an argon2 or bcrypt hash → `{ ok, needsRehash }`. Pass `undefined`
 * for an unknown account: the same work is done and `{ ok: false }` returned.
 */
export function verifyPassword(
  hash: string | null | undefined,
  password: string,
  options?: HashCallOptions,
): Promise<PasswordCheck> {
  return defaultPasswordHasher().verify(hash, password, options);
}

/** Runs a dummy verification (same cost as a real one) for a login on an unknown account. */
export function verifyUnknownAccount(password?: string, options?: HashCallOptions): Promise<PasswordCheck> {
  return defaultPasswordHasher().verifyUnknownAccount(password, options);
}
