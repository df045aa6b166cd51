/**
 * What agents see: one market as a transaction sent now would find it, and a position's health on it.
 * The runner reads each market once per step (its stored state and its index) and projects it with
 * lib/math, the engine's own math; positions come from the keeper's book, rebuilt from events. So a
 * step costs the same few reads whether it has five traders or five thousand.
 */
import { WadMath, positionHealth, type MarketProjection, type PositionHealth, type Tier } from "../../lib/math";
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

/**
 * The view as the next order in the same block sequence will meet it: an order of `sizeDelta` ahead
 * of it (expected to fill) added to its side's open interest, so the skew, and the next fill, account
 * for it. Index and mark stay as read.
 */
export function afterOrder(market: MarketView, sizeDelta: bigint): MarketView {
  const st = market.projected.state;
  const state =
    sizeDelta > 0n
      ? { ...st, longOpenInterest: st.longOpenInterest + sizeDelta }
      : { ...st, shortOpenInterest: st.shortOpenInterest - sizeDelta };
  return { ...market, projected: { ...market.projected, state } };
}

/** Traders' net unrealised PnL at mark (PerpLens.market's traderPnl): what the pool owes them. */
export function tradersPnl(v: MarketView): bigint {
  const st = v.projected.state;
  const mark = v.projected.mark;
  return (
    WadMath.mulDown(st.longOpenInterest, mark) -
    st.longEntryNotional +
    st.shortEntryNotional -
    WadMath.mulDown(st.shortOpenInterest, mark)
  );
}
