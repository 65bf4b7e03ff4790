/**
 * Two-sample comparison of timing distributions, used by the enumeration tests and the audit:
 * the Mann–Whitney U test (rank-sum, no normality assumption, robust to the outliers a shared CI
 * machine produces) with the normal approximation and tie correction, plus its effect size.
 */

export interface TimingComparison {
  /** U statistic of sample `a`. */
  readonly u: number;
  /** Standardised U (two-sided test: |z| > 3.9 ⇔ p < 1e-4). */
  readonly z: number;
  /**
   * Probability that a random draw from `a` is slower than one from `b` (ties count half):
   * 0.5 when neither is systematically slower, 0 or 1 when they never overlap.
   */
  readonly superiority: number;
  readonly medianA: number;
  readonly medianB: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Compares two samples (e.g. response times for existing vs unknown accounts). */
export function compareTimings(a: readonly number[], b: readonly number[]): TimingComparison {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError("compareTimings needs two non-empty samples");
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && (all[j + 1] as { v: number }).v === (all[i] as { v: number }).v) j++;
    const rank = (i + j + 2) / 2; // average of ranks i+1 … j+1
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if ((all[k] as { g: number }).g === 0) rankSumA += rank;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const z = variance > 0 ? (u - mean) / Math.sqrt(variance) : 0;
  return { u, z, superiority: u / (n1 * n2), medianA: median(a), medianB: median(b) };
}
