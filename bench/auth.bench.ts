/**
 * auth: password hashing under load.
 * 1. argon2id (OWASP m=19456 KiB, t=2, p=1) hashes/s through bulwark's bounded hasher at its
 *    concurrency bound, interleaved with @node-rs/argon2 called directly (no bound).
 * 2. Legitimate logins while a flood of wrong-password attempts hammers the same process: bulwark's
 *    passwordLogin (bounded, fair-by-IP hasher, dummy verify) against the usual hand-written login
 *    (@node-rs/argon2 verify straight on libuv's pool). Same process, alternating runs, bounded in
 *    count and time; everything in-process, nothing on the network.
 */
import { availableParallelism } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";
import { type LoginAccount, passwordHasher, passwordLogin } from "../src/auth/index.js";
import { type BenchRow, type BenchSuite, compare, median } from "./lib.js";

const OWASP = {
  algorithm: 2,
  version: 1,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const;

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

interface Outcome {
  ok: boolean;
  status: number;
}
type Login = (identifier: string, password: string, ip: string) => Promise<Outcome>;

interface FloodResult {
  legitLatenciesMs: number[];
  legitOk: number;
  legitTotal: number;
  floodAttempts: number;
  floodBusy: number;
  verifiesPerSecond: number;
}

/**
 * Runs `connections` attacker loops (from `ips` addresses, one network turn between attempts) and
 * `legitClients` users logging in with the right password every `pauseMs`, for `durationMs`.
 */
async function flood(
  login: Login,
  verifies: () => number,
  o: { connections: number; ips: number; legitClients: number; pauseMs: number; durationMs: number },
): Promise<FloodResult> {
  let stop = false;
  let floodAttempts = 0;
  let floodBusy = 0;
  const attackers = Array.from({ length: o.connections }, async (_, i) => {
    const ip = `203.0.113.${i % o.ips}`;
    while (!stop) {
      const r = await login(`victim${i % 97}@example.com`, "Password1!", ip);
      floodAttempts++;
      if (r.status === 503) floodBusy++;
      await sleep(1); // one network round trip on a LAN before the next attempt
    }
  });
  await sleep(50); // let the flood fill every queue first
  const latencies: number[] = [];
  let legitOk = 0;
  const startVerifies = verifies();
  const start = performance.now();
  const users = Array.from({ length: o.legitClients }, async (_, i) => {
    while (performance.now() - start < o.durationMs) {
      const t = performance.now();
      const r = await login("alice@example.com", "correct horse battery staple", `198.51.100.${i + 1}`);
      latencies.push(performance.now() - t);
      if (r.ok) legitOk++;
      await sleep(o.pauseMs);
    }
  });
  await Promise.all(users);
  const elapsed = performance.now() - start;
  const verified = verifies() - startVerifies;
  stop = true;
  await Promise.all(attackers);
  return {
    legitLatenciesMs: latencies,
    legitOk,
    legitTotal: latencies.length,
    floodAttempts,
    floodBusy,
    verifiesPerSecond: (verified * 1000) / elapsed,
  };
}

export const suite: BenchSuite = {
  name: "auth",
  async run({ quick }) {
    const rows: BenchRow[] = [];

    // 1. Throughput at the concurrency bound. The default bound is the CPU count (at most libuv's
    //    pool − 1); a second hasher bounded at libuv's pool size isolates the gate's own overhead.
    const hasher = passwordHasher();
    const { concurrency, maxQueue } = hasher.stats();
    const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
    const poolBound = passwordHasher({ concurrency: pool });
    const inFlight = quick ? pool : pool * 4;
    const batchOf = (fn: () => Promise<unknown>) => ({
      batch: () => Promise.all(Array.from({ length: inFlight }, fn)),
      opsPerBatch: inFlight,
    });
    const hashes = await compare(
      {
        bulwark: batchOf(() => hasher.hash("correct horse")),
        poolBound: batchOf(() => poolBound.hash("correct horse")),
        direct: batchOf(() => argon2Hash("correct horse", OWASP)),
      },
      { rounds: quick ? 1 : 3, ms: quick ? 150 : 1500 },
    );
    const direct = hashes.direct as number;
    const caseName = `argon2id m=19456,t=2,p=1 hashes/s (${availableParallelism()} CPUs, libuv pool ${pool})`;
    rows.push(
      {
        suite: "auth",
        case: caseName,
        subject: `bulwark passwordHasher, default bound ${concurrency}`,
        value: hashes.bulwark as number,
        unit: "hash/s",
        ratio: (hashes.bulwark as number) / direct,
      },
      {
        suite: "auth",
        case: caseName,
        subject: `bulwark passwordHasher, bound ${pool} (gate overhead)`,
        value: hashes.poolBound as number,
        unit: "hash/s",
        ratio: (hashes.poolBound as number) / direct,
        target: "≥ 0.9× unbounded @node-rs/argon2",
        pass: (hashes.poolBound as number) / direct >= 0.9,
      },
      {
        suite: "auth",
        case: caseName,
        subject: "@node-rs/argon2 (unbounded)",
        value: direct,
        unit: "hash/s",
      },
    );

    // 2. Legitimate logins under a flood of wrong-password attempts.
    const aliceHash = await hasher.hash("correct horse battery staple");
    const accounts = new Map<string, LoginAccount>([
      ["alice@example.com", { id: "alice", passwordHash: aliceHash }],
    ]);
    let bulwarkVerifies = 0;
    const counted = passwordHasher();
    const bounded = passwordLogin({
      findAccount: async (id) => accounts.get(id),
      hasher: {
        ...counted,
        verify: async (h, p, opts) => {
          const r = await counted.verify(h, p, opts);
          bulwarkVerifies++;
          return r;
        },
      },
    });
    const bulwarkLogin: Login = async (identifier, password, ip) => {
      const r = await bounded({ identifier, password, ip });
      return { ok: r.ok, status: r.ok ? 200 : r.status };
    };

    // The usual hand-written login: argon2 verify straight away, a dummy hash for unknown accounts.
    const dummy = await argon2Hash("dummy", OWASP);
    let naiveVerifies = 0;
    const naiveLogin: Login = async (identifier, password) => {
      const account = accounts.get(identifier);
      const ok = await argon2Verify(account?.passwordHash ?? dummy, password);
      naiveVerifies++;
      return account !== undefined && ok ? { ok: true, status: 200 } : { ok: false, status: 401 };
    };

    const shape = {
      connections: quick ? 32 : 256,
      ips: 8,
      legitClients: 4,
      pauseMs: 20,
      durationMs: quick ? 300 : 3000,
    };
    const runs: Record<"bulwark" | "naive", FloodResult[]> = { bulwark: [], naive: [] };
    for (let round = 0; round < (quick ? 1 : 3); round++) {
      const order = round % 2 === 0 ? (["bulwark", "naive"] as const) : (["naive", "bulwark"] as const);
      for (const who of order) {
        const result =
          who === "bulwark"
            ? await flood(bulwarkLogin, () => bulwarkVerifies, shape)
            : await flood(naiveLogin, () => naiveVerifies, shape);
        runs[who].push(result);
      }
    }
    const summary = (results: FloodResult[]) => ({
      p50: median(results.map((r) => percentile(r.legitLatenciesMs, 50))),
      p99: median(results.map((r) => percentile(r.legitLatenciesMs, 99))),
      okRate: results.reduce((n, r) => n + r.legitOk, 0) / results.reduce((n, r) => n + r.legitTotal, 0),
      samples: results.reduce((n, r) => n + r.legitTotal, 0),
      busyRate:
        results.reduce((n, r) => n + r.floodBusy, 0) /
        Math.max(
          1,
          results.reduce((n, r) => n + r.floodAttempts, 0),
        ),
      verifiesPerSecond: median(results.map((r) => r.verifiesPerSecond)),
    });
    const b = summary(runs.bulwark);
    const n = summary(runs.naive);
    const floodCase = `login under flood (${shape.connections} attacker conns from ${shape.ips} IPs, ${shape.legitClients} users)`;
    rows.push(
      {
        suite: "auth",
        case: `${floodCase}: legit p99`,
        subject: `bulwark (bound ${concurrency}, queue ${maxQueue})`,
        value: b.p99,
        unit: "ms",
        ratio: b.p99 / n.p99,
        target: "≤ 0.5× hand-written login",
        pass: b.p99 <= 0.5 * n.p99,
      },
      {
        suite: "auth",
        case: `${floodCase}: legit p99`,
        subject: "hand-written (@node-rs/argon2)",
        value: n.p99,
        unit: "ms",
      },
      { suite: "auth", case: `${floodCase}: legit p50`, subject: "bulwark", value: b.p50, unit: "ms" },
      {
        suite: "auth",
        case: `${floodCase}: legit p50`,
        subject: "hand-written (@node-rs/argon2)",
        value: n.p50,
        unit: "ms",
      },
      {
        suite: "auth",
        case: `${floodCase}: legit logins that succeeded (of ${b.samples})`,
        subject: "bulwark",
        value: 100 * b.okRate,
        unit: "%",
        target: "100 %",
        pass: b.okRate === 1,
      },
      {
        suite: "auth",
        case: `${floodCase}: legit logins that succeeded (of ${n.samples})`,
        subject: "hand-written (@node-rs/argon2)",
        value: 100 * n.okRate,
        unit: "%",
      },
      {
        suite: "auth",
        case: `${floodCase}: flood attempts answered 503`,
        subject: "bulwark",
        value: 100 * b.busyRate,
        unit: "%",
      },
      {
        suite: "auth",
        case: `${floodCase}: argon2 verifications/s`,
        subject: "bulwark",
        value: b.verifiesPerSecond,
        unit: "verify/s",
      },
      {
        suite: "auth",
        case: `${floodCase}: argon2 verifications/s`,
        subject: "hand-written (@node-rs/argon2)",
        value: n.verifiesPerSecond,
        unit: "verify/s",
      },
    );
    return rows;
  },
};
