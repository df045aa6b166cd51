/**
 * Pure metrics for the summary: liquidations per block and cascade rounds, medians, peak moves, and
 * the squeeze economics (what it costs to push a constant-product spot pool by X%, and how much
 * open interest that would put within liquidation).
 *
 * All money and prices are WAD bigints. A cost rounds up (it is what a pusher must at least pay);
 * nothing here uses float arithmetic on a value.
 */
import { WAD } from "./decimal";
import type { LiquidationEvent, PeakMove, SqueezePoint, Wad } from "./types";
import type { Side } from "./scenario";

/** The moves, in percent, that the summary's squeeze economics are computed for. */
export const SQUEEZE_MOVES_PCT = [5, 10, 20, 30] as const;
const PERCENT = WAD / 100n;

/* LIQUIDATIONS AND CASCADES */

/** Number of liquidations in each block that had any. */
export function liquidationsPerBlock(events: readonly LiquidationEvent[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const event of events) counts.set(event.block, (counts.get(event.block) ?? 0) + 1);
  return counts;
}

export function maxLiquidationsPerBlock(events: readonly LiquidationEvent[]): number {
  let max = 0;
  for (const count of liquidationsPerBlock(events).values()) max = Math.max(max, count);
  return max;
}

/**
 * Cascade rounds, per market: the first block with liquidations is round 1; a later liquidation
 * block within `maxGapBlocks` of the market's previous one is the next round (the previous round's
 * closes moved the mark, and the keeper acted on it); a longer gap starts a new cascade at 1.
 * With a keeper latency of L blocks, L + 1 is the natural gap. Returns copies, sorted by block.
 */
export function assignCascadeRounds(events: readonly LiquidationEvent[], maxGapBlocks: number): LiquidationEvent[] {
  if (!Number.isInteger(maxGapBlocks) || maxGapBlocks < 1)
    throw new RangeError(`maxGapBlocks must be an integer >= 1, got ${maxGapBlocks}`);
  const sorted = [...events].sort((a, b) => a.block - b.block);
  const previous = new Map<string, { block: number; round: number }>();
  return sorted.map((event) => {
    const last = previous.get(event.market);
    let round = 1;
    if (last !== undefined && last.block === event.block) round = last.round;
    else if (last !== undefined && event.block - last.block <= maxGapBlocks) round = last.round + 1;
    previous.set(event.market, { block: event.block, round });
    return { ...event, round };
  });
}

/** The deepest cascade round among the events (0 without any). */
export function cascadeDepth(events: readonly LiquidationEvent[]): number {
  return events.reduce((deepest, event) => Math.max(deepest, event.round), 0);
}

/** The median (mean of the middle two for an even count), or null for no values. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Median seconds from the mark crossing the liquidation price to the liquidation. */
export function medianCrossingToLiquidationSec(events: readonly LiquidationEvent[]): number | null {
  return median(events.flatMap((event) => (event.crossedAt === null ? [] : [event.t - event.crossedAt])));
}

/* PRICES */

/** Signed fractional change from `from` to `to`, truncated toward zero. */
export function relativeChange(from: Wad, to: Wad): Wad {
  if (from <= 0n) throw new RangeError(`relativeChange: reference must be > 0, got ${from}`);
  return ((to - from) * WAD) / from;
}

/** The largest rise and fall of a price series from a reference (its value at the start). */
export function peakMove(prices: readonly Wad[], reference: Wad): PeakMove {
  let up = 0n;
  let down = 0n;
  for (const price of prices) {
    const move = relativeChange(reference, price);
    if (move > up) up = move;
    if (move < down) down = move;
  }
  return { up, down };
}

/* SQUEEZE ECONOMICS */

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}

/** floor(sqrt(n)) by Newton's method. */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = n;
  let y = (x + 1n) / 2n;
  while (y < x) {
    x = y;
    y = (x + n / x) / 2n;
  }
  return x;
}

/** ceil(sqrt(n)). */
function isqrtUp(n: bigint): bigint {
  const root = isqrt(n);
  return root * root === n ? root : root + 1n;
}

/**
 * USD needed to move a constant-product (x*y=k) pool's price by `move` (signed fraction > -1),
 * the fee taken on the input. The price is y/x, so a factor r on it needs y' = y*sqrt(r) (a buy of
 * y*(sqrt(r) - 1) USD) or x' = x/sqrt(r) (a sale of coins worth y*(1/sqrt(r) - 1) USD at the
 * starting price); each is divided by (1 - fee) for the fee on the way in. Rounds up.
 */
export function costToMoveSpot(reserveUsd: Wad, move: Wad, feeRate: Wad): Wad {
  if (move <= -WAD) throw new RangeError(`costToMoveSpot: move must be > -1, got ${move}`);
  if (feeRate < 0n || feeRate >= WAD) throw new RangeError(`costToMoveSpot: fee must be in [0, 1), got ${feeRate}`);
  if (move === 0n) return 0n;
  const ratio = (WAD + move) * WAD; // r = 1 + move, scaled by WAD^2 so that its root is a WAD
  const factor = move > 0n ? isqrtUp(ratio) : ceilDiv(WAD * WAD, isqrt(ratio)); // sqrt(r), or 1/sqrt(r)
  return ceilDiv(reserveUsd * (factor - WAD), WAD - feeRate);
}

/** An open position as the squeeze metric needs it. */
export interface PositionAtRisk {
  side: Side;
  /** USD. */
  notional: Wad;
  liquidationPrice: Wad;
}

/**
 * Notional that a move of the price from `reference` by `move` (signed fraction) would bring within
 * liquidation: shorts whose liquidation price is at or below the raised price when move > 0, longs
 * at or above the lowered price when move < 0.
 */
export function liquidatableWithin(positions: readonly PositionAtRisk[], reference: Wad, move: Wad): Wad {
  const target = (reference * (WAD + move)) / WAD;
  return positions
    .filter((p) =>
      move > 0n
        ? p.side === "short" && p.liquidationPrice <= target
        : move < 0n && p.side === "long" && p.liquidationPrice >= target,
    )
    .reduce((sum, p) => sum + p.notional, 0n);
}

/** The squeeze economics at each of SQUEEZE_MOVES_PCT, for a pool reserve, its fee and the open positions. */
export function squeezeEconomics(
  reserveUsd: Wad,
  feeRate: Wad,
  reference: Wad,
  positions: readonly PositionAtRisk[],
): SqueezePoint[] {
  return SQUEEZE_MOVES_PCT.map((movePct) => {
    const move = BigInt(movePct) * PERCENT;
    return {
      movePct,
      costUp: costToMoveSpot(reserveUsd, move, feeRate),
      costDown: costToMoveSpot(reserveUsd, -move, feeRate),
      liquidatableUp: liquidatableWithin(positions, reference, move),
      liquidatableDown: liquidatableWithin(positions, reference, -move),
    };
  });
}
