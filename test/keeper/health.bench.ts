/**
 * Measures the keeper's per-block health work on 10k and 100k synthetic positions, with the
 * contracts' math (lib/math MarginMath.liquidationPrice over ALT-USD's four maintenance tiers), as
 * HealthTracker does it (a benchmark, not a test: mocha's *.test.ts glob skips it).
 *
 *   npx ts-node --transpile-only test/keeper/health.bench.ts
 *
 * Per block the keeper (1) recomputes the liquidation prices of the positions that changed, (2) asks
 * the index for the positions the mark has crossed. At a funding boundary it recomputes a whole
 * market. Positions: half long, half short, entries around $2, margin $10 to $10,000, leverage 2x to
 * 50x (capped by the tier), so the four tiers are all used. Marks: a seeded walk of 0.2% steps.
 */
import { PositionBook } from "../../keeper/book";
import type { TrackedPosition } from "../../keeper/book";
import { HealthTracker } from "../../keeper/health";
import type { MarketSnapshot } from "../../keeper/markets";
import { tiersOf } from "../../lib/deploy";
import { ALT_USD } from "../../lib/markets";
import { MarginMath } from "../../lib/math";
import { Random } from "../../sim/random";

const WAD = 10n ** 18n;
const BPS = 10_000n;
const MARK_UPDATES = 1_000;
const CHANGED_SHARE = 0.01;
const TIERS = MarginMath.deriveMaintenanceAmounts(tiersOf(ALT_USD));

/** A market as HealthTracker reads it: its id, tiers and projected funding index. */
function snapshot(fundingIndex: bigint): MarketSnapshot {
  return { marketId: 1n, tiers: TIERS, projected: { state: { fundingIndex } } } as unknown as MarketSnapshot;
}

function synthetic(id: bigint, next: () => number): TrackedPosition {
  const entry = (2n * WAD * (BPS - 200n + BigInt(Math.floor(next() * 400)))) / BPS;
  const margin = BigInt(10 + Math.floor(next() * 9_990)) * WAD;
  const leverage = 2n + BigInt(Math.floor(next() * 9));
  const absSize = (margin * leverage * WAD) / entry;
  const size = next() < 0.5 ? absSize : -absSize;
  return { id, owner: "0x", marketId: 1n, size, entryPrice: entry, margin, fundingSnapshot: 0n, block: 0 };
}

const ms = (ns: bigint): number => Number(ns) / 1e6;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const p99 = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)];

function measure(n: number): string[] {
  const rng = Random.fromSeed(n); // seeded: every run measures the same work
  const next = (): number => rng.float();
  const book = new PositionBook();
  for (let i = 0; i < n; i++) book.apply(synthetic(BigInt(i + 1), next));
  const tracker = new HealthTracker();
  const markets = new Map([[1n, snapshot(0n)]]);

  let start = process.hrtime.bigint();
  tracker.update(book, book.takeChanged(), markets);
  const buildMs = ms(process.hrtime.bigint() - start);

  // A funding boundary: the funding index moved, every liquidation price is recomputed.
  start = process.hrtime.bigint();
  const boundary = tracker.update(book, [], new Map([[1n, snapshot(10n ** 15n)]]));
  const boundaryMs = ms(process.hrtime.bigint() - start);
  if (boundary.recomputed !== n) throw new Error("a funding move recomputes every position");

  const blockMs: number[] = [];
  const scanMs: number[] = [];
  let mark = 2n * WAD;
  let nextId = BigInt(n + 1);
  const boundaryMarkets = new Map([[1n, snapshot(10n ** 15n)]]);
  for (let update = 0; update < MARK_UPDATES; update++) {
    // Positions changed in the block (trades, margin), then the mark update's scan.
    const changedCount = Math.max(1, Math.floor(n * CHANGED_SHARE * next()));
    for (let i = 0; i < changedCount; i++) {
      const id = BigInt(1 + Math.floor(next() * n));
      const p = book.get(id) ?? synthetic(nextId++, next);
      book.apply({ ...p, margin: p.margin + WAD });
    }
    start = process.hrtime.bigint();
    tracker.update(book, book.takeChanged(), boundaryMarkets);
    blockMs.push(ms(process.hrtime.bigint() - start));

    mark = (mark * (BPS + (next() < 0.5 ? -20n : 20n))) / BPS;
    start = process.hrtime.bigint();
    tracker.candidates(1n, mark);
    scanMs.push(ms(process.hrtime.bigint() - start));
  }
  const label = `n=${n.toLocaleString("en-US")}:`;
  return [
    `${label} first build ${buildMs.toFixed(0)} ms; funding boundary (all recomputed) ${boundaryMs.toFixed(0)} ms ` +
      `(${((boundaryMs * 1000) / n).toFixed(1)} us per position)`,
    `${label} per block, up to ${CHANGED_SHARE * 100}% of positions changed: median ${median(blockMs).toFixed(2)} ms, ` +
      `p99 ${p99(blockMs).toFixed(2)} ms`,
    `${label} per mark update, candidates(mark): median ${median(scanMs).toFixed(4)} ms, p99 ${p99(scanMs).toFixed(3)} ms`,
  ];
}

measure(10_000); // warm-up
for (const n of [10_000, 100_000]) console.log(measure(n).join("\n"));
