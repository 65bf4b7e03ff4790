/**
 * Parent side of the HTTP benchmarks: starts a server script in a child process, loads its servers
 * with autocannon on 127.0.0.1 alternately, round by round (order reversed every other round), and
 * returns per server the median requests/s and the median server CPU time per request.
 *
 * Every run is bounded (fixed durations) and the child is stopped in `finally`, on error too; the
 * child also exits by itself when the parent disappears. Set BULWARK_BENCH_CPU_PROF=<dir> to run the
 * server child under `node --cpu-prof` (the profile lands in <dir> when the child exits).
 */
import { type ChildProcess, fork } from "node:child_process";
import autocannon from "autocannon";
import { type BenchRow, median } from "../lib.js";
import type { ServerMessage } from "./child.js";

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

export interface Servers {
  ports: Record<string, number>;
  /** Process id of the server child (for profiling tools). */
  pid: number;
  /** CPU time (user + system, µs) the server process spent since the previous call. */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

function next(child: ChildProcess, what: string, timeoutMs: number): Promise<ServerMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`server child: no ${what} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (message: unknown) => {
      const m = message as ServerMessage;
      if ("error" in m) done(new Error(`server child: ${m.error}`));
      else done(undefined, m);
    };
    const onExit = (code: number | null) =>
      done(new Error(`server child exited (${code}) waiting for ${what}`));
    const done = (error?: Error, message?: ServerMessage) => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve(message!);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/** Forks `script` (a module calling `serveForParent`) with `args` and waits for its ports. */
export async function startServers(script: string, args: string[] = []): Promise<Servers> {
  const profileDir = process.env.BULWARK_BENCH_CPU_PROF;
  const execArgv = ["--import", "tsx"];
  if (profileDir) execArgv.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
  const child = fork(script, args, { execArgv, stdio: ["ignore", 2, 2, "ipc"] });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const stop = async () => {
    process.off("exit", killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    if (child.connected) child.send("stop");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    const first = await next(child, "ports", START_TIMEOUT_MS);
    if (!("ports" in first)) throw new Error("server child: expected its ports first");
    const cpu = async () => {
      const reply = next(child, "CPU reading", 5_000);
      child.send("mark");
      const m = await reply;
      if (!("cpuMicros" in m)) throw new Error("server child: expected a CPU reading");
      return m.cpuMicros;
    };
    return { ports: first.ports, pid: child.pid!, cpu, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface Subject {
  /** Name shown in the table. */
  name: string;
  /** Server name in the child's port map. */
  server: string;
  /** The requests autocannon cycles through (each connection sends them in order). */
  requests: autocannon.Request[];
}

export interface Measured {
  /** Median requests per second. */
  rps: number;
  /** Median server CPU time per request, µs. */
  cpuMicrosPerRequest: number;
  /** Requests answered across all rounds (warm-up excluded). */
  total: number;
}

export interface LoadOptions {
  rounds: number;
  /** Length of one measured run, seconds. */
  seconds: number;
  /** Length of the warm-up run of each subject (before the first round), seconds. */
  warmupSeconds: number;
  connections: number;
}

/** autocannon ends a run at its next sampling tick; a short tick keeps short runs short. */
const SAMPLE_INTERVAL_MS = 100;

/** Loads every subject once per round, alternating the order; medians per subject. */
export async function loadRounds(
  servers: Servers,
  subjects: Subject[],
  options: LoadOptions,
): Promise<Record<string, Measured>> {
  const once = async (subject: Subject, seconds: number) => {
    const port = servers.ports[subject.server];
    if (port === undefined) throw new Error(`no server "${subject.server}" in the child`);
    await servers.cpu();
    const start = performance.now();
    const result = await autocannon({
      url: `http://127.0.0.1:${port}`,
      connections: options.connections,
      duration: seconds,
      sampleInt: SAMPLE_INTERVAL_MS,
      requests: subject.requests,
    });
    const elapsedMs = performance.now() - start;
    const micros = await servers.cpu();
    const failed = result.errors + result.timeouts + result.non2xx;
    if (failed > 0 || result.requests.total === 0) {
      throw new Error(
        `${subject.name}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests.total} requests — the benchmark only measures admitted requests`,
      );
    }
    return {
      rps: (result.requests.total * 1000) / elapsedMs,
      cpu: micros / result.requests.total,
      total: result.requests.total,
    };
  };
  for (const s of subjects) await once(s, options.warmupSeconds);
  const samples = subjects.map(() => ({ rps: [] as number[], cpu: [] as number[], total: 0 }));
  for (let round = 0; round < options.rounds; round++) {
    const order = subjects.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const got = await once(subjects[i]!, options.seconds);
      samples[i]!.rps.push(got.rps);
      samples[i]!.cpu.push(got.cpu);
      samples[i]!.total += got.total;
    }
  }
  return Object.fromEntries(
    subjects.map((s, i) => [
      s.name,
      {
        rps: median(samples[i]!.rps),
        cpuMicrosPerRequest: median(samples[i]!.cpu),
        total: samples[i]!.total,
      },
    ]),
  );
}

/** Round counts and run lengths: 11.5 s of load per subject, 1.2 s with `quick`. */
export function loadOptions(quick: boolean): LoadOptions {
  return quick
    ? { rounds: 2, seconds: 0.5, warmupSeconds: 0.2, connections: 16 }
    : { rounds: 5, seconds: 2, warmupSeconds: 1.5, connections: 16 };
}

/**
 * Rows comparing `ours` with `theirs`: requests/s (ratio against the target) and server CPU per
 * request (ratio reported; the steadier figure on a shared machine).
 */
export function pairRows(
  suite: string,
  label: string,
  ours: { name: string; m: Measured },
  theirs: { name: string; m: Measured },
  target: { min: number; text: string } | undefined,
): BenchRow[] {
  const ratio = ours.m.rps / theirs.m.rps;
  const cpuRatio = ours.m.cpuMicrosPerRequest / theirs.m.cpuMicrosPerRequest;
  const rpsCase = `${label}: requests/s`;
  const cpuCase = `${label}: server CPU per request`;
  return [
    {
      suite,
      case: rpsCase,
      subject: ours.name,
      value: ours.m.rps,
      unit: "req/s",
      ratio,
      ...(target ? { target: target.text, pass: ratio >= target.min } : {}),
    },
    { suite, case: rpsCase, subject: theirs.name, value: theirs.m.rps, unit: "req/s" },
    {
      suite,
      case: cpuCase,
      subject: ours.name,
      value: ours.m.cpuMicrosPerRequest,
      unit: "µs",
      ratio: cpuRatio,
      target: "reported (lower is better)",
    },
    { suite, case: cpuCase, subject: theirs.name, value: theirs.m.cpuMicrosPerRequest, unit: "µs" },
  ];
}

/**
 * Starts `script` with server group `group` in its own child process, lets `prepare` check the servers
 * and build the subjects, loads them in rounds, and stops the child (on error too).
 */
export async function measureGroup(
  script: string,
  group: string,
  options: LoadOptions,
  prepare: (servers: Servers) => Promise<Subject[]>,
): Promise<Record<string, Measured>> {
  const servers = await startServers(script, [group]);
  try {
    return await loadRounds(servers, await prepare(servers), options);
  } finally {
    await servers.stop();
  }
}
