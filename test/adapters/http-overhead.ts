/**
 * `npx tsx test/adapters/http-overhead.ts [--quick] [--json]`
 * What the node:http adapter costs: bare node:http against node:http + protect(one guard that sets one
 * header), both served by one child process on 127.0.0.1, loaded alternately by autocannon (bounded
 * duration, 16 connections). Reported per server: requests/s and the server's CPU time per request
 * (user + system, from process.cpuUsage) — the CPU figure is the stable one on a shared machine.
 * Written as a BenchSuite so it can join bench/ as is.
 */
import { fork } from "node:child_process";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import type { BenchRow, BenchSuite } from "../../bench/lib.js";
import { median } from "../../bench/lib.js";
import { protect } from "../../src/adapters/node/index.js";
import type { ContinueOutcome, Guard } from "../../src/core/outcome.js";

const SUBJECTS = ["bare node:http", "node:http + protect(1 guard, 1 header)"] as const;

function serve(): void {
  const handler = (_req: unknown, res: ServerResponse) => {
    res.setHeader("content-type", "text/plain");
    res.end("hello");
  };
  const OUTCOME: ContinueOutcome = { action: "continue", headers: [["x-guarded", "1"]] };
  const guard: Guard = () => OUTCOME;
  const servers = [createServer(handler), createServer(protect(guard)(handler))];
  let last = process.cpuUsage();
  process.on("message", (message) => {
    if (message !== "mark") return;
    const now = process.cpuUsage();
    process.send!({ cpuMicros: now.user - last.user + now.system - last.system });
    last = now;
  });
  let pending = servers.length;
  for (const server of servers) {
    server.listen(0, "127.0.0.1", () => {
      if (--pending === 0) process.send!({ ports: servers.map((s) => (s.address() as AddressInfo).port) });
    });
  }
}

async function measure(quick: boolean): Promise<BenchRow[]> {
  const child = fork(fileURLToPath(import.meta.url), ["--serve"], { execArgv: ["--import", "tsx"] });
  try {
    const { ports } = await new Promise<{ ports: number[] }>((resolve) =>
      child.once("message", (m) => resolve(m as { ports: number[] })),
    );
    const cpu = () =>
      new Promise<number>((resolve) => {
        child.once("message", (m) => resolve((m as { cpuMicros: number }).cpuMicros));
        child.send("mark");
      });
    const load = async (port: number, seconds: number) => {
      await cpu();
      const result = await autocannon({
        url: `http://127.0.0.1:${port}/`,
        connections: 16,
        duration: seconds,
      });
      const micros = await cpu();
      return { rps: result.requests.average, cpuPerRequest: micros / result.requests.total };
    };
    const seconds = quick ? 1 : 3;
    const rounds = quick ? 2 : 7;
    for (const port of ports) await load(port, 1); // warm-up
    const samples = SUBJECTS.map(() => ({ rps: [] as number[], cpu: [] as number[] }));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const got = await load(ports[i]!, seconds);
        samples[i]!.rps.push(got.rps);
        samples[i]!.cpu.push(got.cpuPerRequest);
      }
    }
    const [bare, guarded] = samples.map((s) => ({ rps: median(s.rps), cpu: median(s.cpu) })) as [
      { rps: number; cpu: number },
      { rps: number; cpu: number },
    ];
    const throughputRatio = guarded.rps / bare.rps;
    const cpuRatio = guarded.cpu / bare.cpu;
    return [
      { suite: "adapters", case: "http: requests/s", subject: SUBJECTS[0], value: bare.rps, unit: "req/s" },
      {
        suite: "adapters",
        case: "http: requests/s",
        subject: SUBJECTS[1],
        value: guarded.rps,
        unit: "req/s",
        ratio: throughputRatio,
        target: "≥ 0.90× bare node:http",
        pass: throughputRatio >= 0.9,
      },
      {
        suite: "adapters",
        case: "http: server CPU per request",
        subject: SUBJECTS[0],
        value: bare.cpu,
        unit: "µs",
      },
      {
        suite: "adapters",
        case: "http: server CPU per request",
        subject: SUBJECTS[1],
        value: guarded.cpu,
        unit: "µs",
        ratio: cpuRatio,
        target: "≤ 1.10× bare node:http",
        pass: cpuRatio <= 1.1,
      },
    ];
  } finally {
    child.kill();
  }
}

export const suite: BenchSuite = { name: "adapters", run: ({ quick }) => measure(quick) };

if (process.argv.includes("--serve")) serve();
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await suite.run({ quick: process.argv.includes("--quick") });
  for (const r of rows) {
    const ratio =
      r.ratio === undefined
        ? ""
        : `  ratio ${r.ratio.toFixed(3)} (target ${r.target}: ${r.pass ? "met" : "NOT met"})`;
    console.log(
      `${r.case.padEnd(30)} ${r.subject.padEnd(40)} ${r.value.toFixed(r.unit === "µs" ? 2 : 0)} ${r.unit}${ratio}`,
    );
  }
  if (process.argv.includes("--json")) console.log(JSON.stringify(rows));
}
