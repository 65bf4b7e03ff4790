/**
 * Rate limiting on the memory store vs rate-limiter-flexible's RateLimiterMemory (same process,
 * interleaved rounds): sequential checks per second at 10k and 1M keys, bytes per key, and memory
 * once `maxKeys` is reached.
 *
 * Both limiters enforce the same fixed window (a limit high enough that every check is admitted,
 * so both run their admission path; rate-limiter-flexible rejects a promise on denial).
 * Heap figures come from a child process started with --expose-gc, so that a full collection runs
 * before every reading; they count the JS heap plus external memory (typed-array backing stores).
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { rateLimit } from "../src/ratelimit/limiter.js";
import { memoryStore } from "../src/stores/memory/index.js";
import { type BenchRow, type BenchSuite, compare } from "./lib.js";

const require = createRequire(import.meta.url);
const here = fileURLToPath(import.meta.url);

interface RlfMemory {
  consume(key: string, points?: number): Promise<unknown>;
}
const { RateLimiterMemory } = require("rate-limiter-flexible") as {
  RateLimiterMemory: new (options: { points: number; duration: number }) => RlfMemory;
};

const LIMIT = 1_000_000_000;
const WINDOW_S = 3600;

function subjects(keyCount: number) {
  const keys = Array.from({ length: keyCount }, (_, i) => `user:${i}`);
  const rlf = new RateLimiterMemory({ points: LIMIT, duration: WINDOW_S });
  const bulwark = rateLimit({
    store: memoryStore({ maxKeys: Math.max(1_000_000, keyCount) }),
    limits: [{ name: "hour", algorithm: "fixed-window", limit: LIMIT, windowMs: WINDOW_S * 1000 }],
  });
  return { keys, rlf, bulwark };
}

const BATCH = 1000;

async function throughputRows(
  keyCount: number,
  label: string,
  ms: number,
  rounds: number,
): Promise<BenchRow[]> {
  const { keys, rlf, bulwark } = subjects(keyCount);
  // Every key exists before measuring (the steady state of a busy server).
  for (const k of keys) await rlf.consume(k);
  for (const k of keys) await bulwark.check(k);
  let i = 0;
  let j = 0;
  const result = await compare(
    {
      bulwark: {
        batch: async () => {
          for (let n = 0; n < BATCH; n++) {
            const d = await bulwark.check(keys[i] as string);
            if (!d.allowed) throw new Error("bulwark denied a check the benchmark expects admitted");
            i = i + 1 === keyCount ? 0 : i + 1;
          }
        },
        opsPerBatch: BATCH,
      },
      "rate-limiter-flexible": {
        batch: async () => {
          for (let n = 0; n < BATCH; n++) {
            await rlf.consume(keys[j] as string);
            j = j + 1 === keyCount ? 0 : j + 1;
          }
        },
        opsPerBatch: BATCH,
      },
    },
    { rounds, ms },
  );
  const ours = result.bulwark as number;
  const theirs = result["rate-limiter-flexible"] as number;
  const factor = keyCount > 10_000 ? 1.5 : 1.0;
  const caseName = `memory ${label} keys: sequential checks/s`;
  return [
    {
      suite: "ratelimit-memory",
      case: caseName,
      subject: "bulwark",
      value: ours,
      unit: "checks/s",
      ratio: ours / theirs,
      target: `≥ ${factor.toFixed(1)}× RateLimiterMemory`,
      pass: ours / theirs >= factor,
    },
    {
      suite: "ratelimit-memory",
      case: caseName,
      subject: "rate-limiter-flexible",
      value: theirs,
      unit: "checks/s",
    },
  ];
}

interface HeapReading {
  bytesPerKey: number;
  total: number;
}

interface FlatReading {
  /** Bytes held once maxKeys distinct keys were checked. */
  atMax: number;
  /** After 2× maxKeys distinct keys (the JS Map has grown to its steady-state capacity). */
  settled: number;
  /** After 6× maxKeys distinct keys. */
  after: number;
}

/** Runs this file in a child process with --expose-gc and returns its JSON answer. */
function child<T = HeapReading>(args: string[]): T {
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", here, "--heap-child", ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`heap child ${args.join(" ")} failed: ${r.stderr.slice(0, 500)}`);
  }
}

function used(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --expose-gc");
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Child-process side: measures the memory that `count` keys cost a subject. */
async function heapChild(subject: string, count: number, maxKeys: number): Promise<void> {
  if (subject === "flat") {
    // Fill to maxKeys, then keep inserting distinct keys (each evicts one): memory must stop growing.
    const limiter = rateLimit({
      store: memoryStore({ maxKeys }),
      limits: [{ name: "hour", algorithm: "fixed-window", limit: LIMIT, windowMs: WINDOW_S * 1000 }],
    });
    await limiter.check("warm-up");
    const base = used();
    let i = 0;
    const fillTo = async (n: number) => {
      for (; i < n; i++) await limiter.check(`user:${i}`);
      return used() - base;
    };
    const atMax = await fillTo(maxKeys);
    const settled = await fillTo(2 * maxKeys);
    const after = await fillTo(6 * maxKeys);
    // Keep the limiter reachable until after the reading (otherwise V8 may collect it early).
    await limiter.check("keep-alive");
    console.log(JSON.stringify({ atMax, settled, after }));
    return;
  }
  let check: (key: string) => Promise<unknown>;
  if (subject === "bulwark") {
    const limiter = rateLimit({
      store: memoryStore({ maxKeys: Math.max(count, 1) }),
      limits: [{ name: "hour", algorithm: "fixed-window", limit: LIMIT, windowMs: WINDOW_S * 1000 }],
    });
    check = (key) => limiter.check(key);
  } else {
    const rlf = new RateLimiterMemory({ points: LIMIT, duration: WINDOW_S });
    check = (key) => rlf.consume(key);
  }
  await check("warm-up");
  const before = used();
  // Keys are built as requests would build them: a fresh string each, retained by the limiter.
  for (let i = 0; i < count; i++) await check(`user:${i}`);
  const after = used();
  // Keep the limiter reachable until after the reading (otherwise V8 may collect it early).
  await check("keep-alive");
  console.log(JSON.stringify({ bytesPerKey: (after - before) / count, total: after - before }));
}

async function run({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const big = quick ? 50_000 : 1_000_000;
  const bigLabel = quick ? "50k" : "1M";
  const rows: BenchRow[] = [];
  const ms = quick ? 150 : 700;
  const rounds = quick ? 2 : 7;
  rows.push(...(await throughputRows(10_000, "10k", ms, rounds)));
  rows.push(...(await throughputRows(big, bigLabel, ms, rounds)));

  const heapCases: Array<[number, string]> = quick
    ? [[big, bigLabel]]
    : [
        [10_000, "10k"],
        [big, bigLabel],
      ];
  for (const [count, label] of heapCases) {
    const ours = child(["bulwark", String(count), "0"]);
    const theirs = child(["rlf", String(count), "0"]);
    const caseName = `memory ${label} keys: heap bytes per key`;
    rows.push({
      suite: "ratelimit-memory",
      case: caseName,
      subject: "bulwark",
      value: ours.bytesPerKey,
      unit: "B/key",
      ratio: ours.bytesPerKey / theirs.bytesPerKey,
      target: "≤ 150 B/key",
      pass: ours.bytesPerKey <= 150,
    });
    rows.push({
      suite: "ratelimit-memory",
      case: caseName,
      subject: "rate-limiter-flexible",
      value: theirs.bytesPerKey,
      unit: "B/key",
    });
  }

  const maxKeys = big;
  const flat = child<FlatReading>(["flat", "0", String(maxKeys)]);
  rows.push({
    suite: "ratelimit-memory",
    case: `memory at maxKeys ${bigLabel} under churn: heap bytes per key`,
    subject: "bulwark",
    value: flat.settled / maxKeys,
    unit: "B/key",
    target: "≤ 150 B/key",
    pass: flat.settled / maxKeys <= 150,
  });
  rows.push({
    suite: "ratelimit-memory",
    case: `memory past maxKeys ${bigLabel}: after 6× ÷ after 2× maxKeys distinct keys`,
    subject: "bulwark",
    value: flat.after,
    unit: "B",
    ratio: flat.after / flat.settled,
    target: "≤ 1.05× (flat)",
    pass: flat.after / flat.settled <= 1.05,
  });
  rows.push({
    suite: "ratelimit-memory",
    case: `memory past maxKeys ${bigLabel}: after 2× maxKeys ÷ at maxKeys (one-time JS Map growth)`,
    subject: "bulwark",
    value: flat.settled,
    unit: "B",
    ratio: flat.settled / flat.atMax,
  });
  return rows;
}

export const suite: BenchSuite = { name: "ratelimit-memory", run };

if (process.argv[2] === "--heap-child" && process.argv[1] === here) {
  const [, , , subject, count, maxKeys] = process.argv;
  await heapChild(subject as string, Number(count), Number(maxKeys));
}
