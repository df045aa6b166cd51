/**
 * What agents see: one market as a transaction sent now would find it, and a position's health on it.
 * The runner reads each market once per step (its stored state and its index) and projects it with
 * lib/math, the engine's own math; positions come from the keeper's book, rebuilt from events. So a
 * step costs the same few reads whether it has five traders or five thousand.
 */
import { positionHealth, type MarketProjection, type PositionHealth, type Tier } from "../../lib/math";
import type { TrackedPosition } from "../../keeper/book";

export interface MarketView {
  symbol: string;
  marketId: bigint;
  /** The time a transaction sent now sees, seconds. */
  nowSec: bigint;
  /** Synced state, index, last and mark at nowSec. */
  projected: MarketProjection;
  tiers: readonly Tier[];
  skewScale: bigint;
  /** The market's taker fee rate (WAD). */
  takerFee: bigint;
}

export interface PositionView {
  position: TrackedPosition;
  health: PositionHealth;
}

/** A position's health at the market's mark, as the lens would report it. */
export function viewPosition(position: TrackedPosition, market: MarketView): PositionView {
  return {
    position,
    health: positionHealth(market.projected.state, market.tiers, position, market.projected.mark),
  };
}

/** K = long open interest - short open interest, base units. */
export function skewOf(market: MarketView): bigint {
  return market.projected.state.longOpenInterest - market.projected.state.shortOpenInterest;
}
