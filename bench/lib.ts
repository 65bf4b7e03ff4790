/**
 * Shared benchmark helpers. Every figure a suite reports comes from measuring bulwark and the anchor
 * library in the same process run, interleaved round by round, so machine noise hits both alike;
 * ratios are what suites compare against their targets.
 */

export interface BenchRow {
  /** Suite name, e.g. "ratelimit". */
  suite: string;
  /** What is measured, e.g. "memory 10k keys: checks/s". */
  case: string;
  /** Who is measured, e.g. "bulwark" or "rate-limiter-flexible". */
  subject: string;
  value: number;
  unit: string;
  /** bulwark ÷ anchor (or the figure the target names), when this row carries the comparison. */
  ratio?: number;
  /** Human-readable target, e.g. "≥ 1.0× RateLimiterMemory". */
  target?: string;
  /** Whether the ratio met the target. */
  pass?: boolean;
}

export interface BenchSuite {
  name: string;
  /** Runs the suite; `quick` asks for a shorter run (used by smoke tests). */
  run(options: { quick: boolean }): Promise<BenchRow[]>;
}

/** Runs `batch` (which performs `opsPerBatch` operations) repeatedly for `ms`; returns ops/s. */
export async function throughput(
  batch: () => unknown | Promise<unknown>,
  opsPerBatch: number,
  ms: number,
): Promise<number> {
  const start = performance.now();
  let ops = 0;
  let elapsed = 0;
  do {
    const r = batch();
    if (r instanceof Promise) await r;
    ops += opsPerBatch;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (ops * 1000) / elapsed;
}

/**
 * Measures several subjects interleaved: `rounds` rounds, each running every subject for `ms`,
 * after one warm-up round. Returns the median ops/s per subject.
 */
export async function compare(
  subjects: Record<string, { batch: () => unknown | Promise<unknown>; opsPerBatch: number }>,
  options: { rounds: number; ms: number },
): Promise<Record<string, number>> {
  const names = Object.keys(subjects);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names)
    await throughput(subjects[n]!.batch, subjects[n]!.opsPerBatch, Math.min(200, options.ms));
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const n of order)
      samples[n]!.push(await throughput(subjects[n]!.batch, subjects[n]!.opsPerBatch, options.ms));
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n]!)]));
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Formats a number for the table: 3 significant digits with a k/M suffix. */
export function human(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toPrecision(3)}k`;
  return value.toPrecision(3);
}
