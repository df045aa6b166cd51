/**
 * Measures HealthIndex for 10k and 100k synthetic positions (a benchmark, not a test: mocha's
 * *.test.ts glob skips it, and nothing here asserts a time).
 *
 *   npx ts-node --transpile-only test/keeper/health-index.bench.ts
 *
 * Positions: half long, half short, entries around 2000 USD, leverage 2x to 50x, so liquidation
 * prices spread from about 2% to 50% away from entry. Marks: a seeded random walk of 0.2% steps,
 * which keeps crossing liquidation prices the way a volatile market does. Per mark update it times
 * candidates(mark) (the health scan), then removes the candidates (as their liquidation would) and
 * opens as many fresh positions at the new mark, so the set stays at n. For scale, every
 * FULL_SCAN_EVERY-th update it also times the naive alternative: checking every position.
 */
import { HealthIndex } from "../../keeper/health-index";
import type { Side } from "../../keeper/health-index";
import { Random } from "../../sim/random";

const WAD = 10n ** 18n;
const BPS = 10_000n;
const ENTRY_PRICE = 2_000n * WAD;
const MAINTENANCE_BPS = 50n;
const MARK_UPDATES = 2_000;
const STEP_BPS = 20n;
const FULL_SCAN_EVERY = 50;

interface Synthetic {
  side: Side;
  liquidationPrice: bigint;
}

/** Isolated-margin liquidation price with a flat maintenance rate (enough for a benchmark). */
function liquidationPrice(side: Side, entry: bigint, leverage: bigint): bigint {
  const distanceBps = BPS / leverage - MAINTENANCE_BPS;
  return side === "long" ? (entry * (BPS - distanceBps)) / BPS : (entry * (BPS + distanceBps)) / BPS;
}

/** Opens a random position in the index and in `all`, the naive scan's copy. */
function openPosition(
  index: HealthIndex,
  all: Map<bigint, Synthetic>,
  id: bigint,
  entry: bigint,
  next: () => number,
): void {
  const side: Side = next() < 0.5 ? "long" : "short";
  const leverage = 2n + BigInt(Math.floor(next() * 49));
  const price = liquidationPrice(side, entry, leverage);
  index.upsert(id, side, price);
  all.set(id, { side, liquidationPrice: price });
}

function fullScan(all: Map<bigint, Synthetic>, mark: bigint): number {
  let crossed = 0;
  for (const position of all.values()) {
    if (position.side === "long" ? mark <= position.liquidationPrice : mark >= position.liquidationPrice) crossed++;
  }
  return crossed;
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const ms = (ns: bigint): number => Number(ns) / 1e6;

function measure(n: number): string[] {
  const rng = Random.fromSeed(n); // seeded: every run measures the same work
  const next = (): number => rng.float();
  const index = new HealthIndex();
  const all = new Map<bigint, Synthetic>();
  const loadStart = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const jitterBps = BigInt(Math.floor(next() * 200)) - 100n;
    openPosition(index, all, BigInt(i), (ENTRY_PRICE * (BPS + jitterBps)) / BPS, next);
  }
  const loadMs = ms(process.hrtime.bigint() - loadStart);

  let nextId = BigInt(n);
  let mark = ENTRY_PRICE;
  const scanMs: number[] = [];
  const churnMs: number[] = [];
  const crossed: number[] = [];
  const fullScanMs: number[] = [];
  for (let update = 0; update < MARK_UPDATES; update++) {
    const step = next() < 0.5 ? -STEP_BPS : STEP_BPS;
    mark = (mark * (BPS + step)) / BPS;
    const scanStart = process.hrtime.bigint();
    const ids = index.candidates(mark);
    scanMs.push(ms(process.hrtime.bigint() - scanStart));
    crossed.push(ids.length);
    if (update % FULL_SCAN_EVERY === 0) {
      const fullStart = process.hrtime.bigint();
      if (fullScan(all, mark) !== ids.length) throw new Error("the index and the full scan disagree");
      fullScanMs.push(ms(process.hrtime.bigint() - fullStart));
    }

    const churnStart = process.hrtime.bigint();
    for (const id of ids) {
      index.remove(id);
      all.delete(id);
    }
    for (let i = 0; i < ids.length; i++) openPosition(index, all, nextId++, mark, next);
    churnMs.push(ids.length === 0 ? 0 : ms(process.hrtime.bigint() - churnStart) / (2 * ids.length));
  }

  const sorted = (values: readonly number[]) => [...values].sort((a, b) => a - b);
  const sortedScan = sorted(scanMs);
  const sortedCrossed = sorted(crossed);
  const whenCrossed = sorted(scanMs.filter((_, i) => crossed[i] > 0));
  const churn = sorted(churnMs.filter((value) => value > 0));
  const label = `n=${n.toLocaleString("en-US")}:`;
  const lines = [
    `${label} load ${loadMs.toFixed(1)} ms (${((loadMs * 1000) / n).toFixed(2)} us per upsert)`,
    `${label} candidates() per mark update: median ${percentile(sortedScan, 0.5).toFixed(4)} ms, ` +
      `p99 ${percentile(sortedScan, 0.99).toFixed(3)} ms, max ${sortedScan[sortedScan.length - 1].toFixed(3)} ms`,
    `${label} positions crossed per update: median ${percentile(sortedCrossed, 0.5)}, ` +
      `max ${sortedCrossed[sortedCrossed.length - 1]}; updates that crossed any: ${whenCrossed.length}, ` +
      `their median ${percentile(whenCrossed, 0.5).toFixed(4)} ms`,
    `${label} remove or upsert: median ${(percentile(churn, 0.5) * 1000).toFixed(2)} us`,
    `${label} naive full scan for comparison: median ${percentile(sorted(fullScanMs), 0.5).toFixed(3)} ms`,
  ];

  // The worst case: one update that crosses every long at once.
  const everyLong = process.hrtime.bigint();
  const longs = index.candidates(1n).length;
  const everyLongMs = ms(process.hrtime.bigint() - everyLong);
  return [...lines, `${label} worst case, a mark of 1 wei crossing all ${longs} longs: ${everyLongMs.toFixed(2)} ms`];
}

measure(10_000); // warm-up: the JIT compiles the hot paths before the measured runs
for (const n of [10_000, 100_000]) console.log(measure(n).join("\n"));
