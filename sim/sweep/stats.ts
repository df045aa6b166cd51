/**
 * Statistics over seeds, exact on WAD bigints: mean, and percentiles by linear interpolation
 * between closest ranks (NumPy's default, Hyndman and Fan's type 7): for sorted x[0..n-1] and
 * p in percent, h = (n - 1) * p / 100 and P = x[floor h] + (h - floor h) * (x[ceil h] - x[floor h]).
 * Divisions truncate toward zero, as bigint `/` does.
 *
 * VaR95 and LaR95 are Gauntlet's: the 95th percentile over seeds of bad debt and of liquidated
 * notional.
 */

const PERCENT = 100n;

export class StatsError extends Error {
  override name = "StatsError";
}

/** The p-th percentile (0 <= p <= 100, integer percent) of a non-empty sample. */
export function percentile(sample: readonly bigint[], p: number): bigint {
  if (sample.length === 0) throw new StatsError("percentile of an empty sample");
  if (!Number.isInteger(p) || p < 0 || p > 100) throw new StatsError(`percentile ${p}: expected an integer 0..100`);
  const sorted = [...sample].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rank = BigInt(sorted.length - 1) * BigInt(p);
  const lo = Number(rank / PERCENT);
  const fraction = rank % PERCENT;
  const low = sorted[lo]!;
  if (fraction === 0n) return low;
  return low + ((sorted[lo + 1]! - low) * fraction) / PERCENT;
}

/** The arithmetic mean of a non-empty sample. */
export function mean(sample: readonly bigint[]): bigint {
  if (sample.length === 0) throw new StatsError("mean of an empty sample");
  return sample.reduce((sum, x) => sum + x, 0n) / BigInt(sample.length);
}

/** The four numbers summary.json gives per metric and configuration. */
export interface Distribution {
  mean: bigint;
  p5: bigint;
  p50: bigint;
  p95: bigint;
}

export function distribution(sample: readonly bigint[]): Distribution {
  return { mean: mean(sample), p5: percentile(sample, 5), p50: percentile(sample, 50), p95: percentile(sample, 95) };
}
