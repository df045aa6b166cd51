/**
 * The keeper's off-chain health scan per mark update, on synthetic positions: no chain, only lib/math
 * (the contracts' math in bigint) and keeper/health-index (positions ordered by liquidation price).
 *
 * Per mark update, timed: what the keeper computes off-chain (keeper.ts), the market projected to the
 * new index and time (lib/math projectMarket, the PerpLens view: funding boundaries, EMA, last and mark
 * price) and the HealthIndex candidates at that mark. Not timed: each candidate checked with the exact
 * health predicate (MarginMath.isLiquidatable; the keeper confirms on-chain with the lens instead), then
 * the liquidated candidates leave and as many new positions open at the new index, so the set stays at
 * n. For scale, every NAIVE_EVERY-th update also times the naive alternative: the predicate on every
 * position. The index moves by a seeded random walk of 0.2% steps, one update per 12-second block.
 */
import { HealthIndex, type Side } from "../keeper/health-index";
import { MarginMath, projectMarket, type MarketConfig, type MarketState, type Tier } from "../lib/math";
import { WAD } from "../lib/units";
import { Random } from "../sim/random";

const BPS = 10_000n;
const STEP_BPS = 20n;
const BLOCK_SEC = 12n;
const NAIVE_EVERY = 50;
/** Entries within +-1% of the start index; leverage 2x to 50x; margin $10 to $5,000. */
const ENTRY_JITTER_BPS = 100;
const LEVERAGE = { min: 2, max: 50 };
const MARGIN_USD = { min: 10, max: 5_000 };

export interface ScanMarket {
  cfg: MarketConfig;
  state: MarketState;
  tiers: Tier[];
  index: bigint;
  nowSec: bigint;
}

export interface ScanResult {
  positions: number;
  runs: number;
  updatesPerRun: number;
  /** median over runs of each run's median per-update time */
  medianMs: number;
  p99Ms: number;
  /** median candidates confirmed per update, and the largest */
  medianLiquidatable: number;
  maxLiquidatable: number;
  naiveMedianMs: number;
}

interface Synthetic {
  size: bigint;
  entry: bigint;
  net: bigint;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

class Book {
  readonly index = new HealthIndex();
  readonly all = new Map<bigint, Synthetic>();
  private nextId = 1n;

  constructor(
    private readonly tiers: Tier[],
    private readonly next: () => number,
  ) {}

  open(atPrice: bigint): void {
    const side: Side = this.next() < 0.5 ? "long" : "short";
    const jitter = BigInt(Math.floor(this.next() * 2 * ENTRY_JITTER_BPS)) - BigInt(ENTRY_JITTER_BPS);
    const entry = (atPrice * (BPS + jitter)) / BPS;
    const leverage = BigInt(LEVERAGE.min + Math.floor(this.next() * (LEVERAGE.max - LEVERAGE.min + 1)));
    const margin = BigInt(MARGIN_USD.min + Math.floor(this.next() * (MARGIN_USD.max - MARGIN_USD.min))) * WAD;
    const absSize = (margin * leverage * WAD) / entry;
    const size = side === "long" ? absSize : -absSize;
    const id = this.nextId++;
    this.all.set(id, { size, entry, net: margin });
    this.index.upsert(id, side, MarginMath.liquidationPrice(this.tiers, size, entry, margin));
  }

  close(id: bigint): void {
    this.index.remove(id);
    this.all.delete(id);
  }
}

function run(market: ScanMarket, n: number, updates: number, seed: number) {
  const rng = Random.fromSeed(seed); // seeded: every run measures the same work
  const next = (): number => rng.float();
  const book = new Book(market.tiers, next);
  for (let i = 0; i < n; i++) book.open(market.index);
  let index = market.index;
  let now = market.nowSec;
  const times: number[] = [];
  const crossed: number[] = [];
  const naive: number[] = [];
  for (let u = 0; u < updates; u++) {
    index = (index * (BPS + (next() < 0.5 ? -STEP_BPS : STEP_BPS))) / BPS;
    now += BLOCK_SEC;
    const start = performance.now();
    const { mark } = projectMarket(market.cfg, market.state, index, now);
    const liquidatable = book.index.candidates(mark);
    times.push(performance.now() - start);
    crossed.push(liquidatable.length);

    // Not timed (the keeper confirms candidates on-chain, with the lens): every candidate is
    // liquidatable by the exact predicate, and every NAIVE_EVERY-th update no other position is.
    for (const id of liquidatable) {
      const p = book.all.get(id)!;
      if (!MarginMath.isLiquidatable(market.tiers, p.size, p.entry, p.net, mark)) {
        throw new Error(`scan names a healthy position ${id} at mark ${mark}`);
      }
    }

    if (u % NAIVE_EVERY === 0) {
      const naiveStart = performance.now();
      let count = 0;
      for (const p of book.all.values())
        if (MarginMath.isLiquidatable(market.tiers, p.size, p.entry, p.net, mark)) count++;
      naive.push(performance.now() - naiveStart);
      if (count !== liquidatable.length) {
        throw new Error(`scan disagrees with the full predicate: ${liquidatable.length} vs ${count} at mark ${mark}`);
      }
    }
    for (const id of liquidatable) book.close(id);
    for (let i = 0; i < liquidatable.length; i++) book.open(index);
  }
  return { times, crossed, naive };
}

export function measureScan(market: ScanMarket, n: number, runs: number, updates: number): ScanResult {
  const medians: number[] = [];
  const all: number[] = [];
  const crossed: number[] = [];
  const naive: number[] = [];
  for (let r = 0; r < runs; r++) {
    const result = run(market, n, updates, n + r);
    medians.push(median(result.times));
    all.push(...result.times);
    crossed.push(...result.crossed);
    naive.push(...result.naive);
  }
  return {
    positions: n,
    runs,
    updatesPerRun: updates,
    medianMs: median(medians),
    p99Ms: percentile(all, 0.99),
    medianLiquidatable: median(crossed),
    maxLiquidatable: Math.max(...crossed),
    naiveMedianMs: median(naive),
  };
}

/** Warms the JIT on the hot paths so the first measured run is not the slow one. */
export function warmUp(market: ScanMarket): void {
  run(market, 10_000, 200, 1);
}
