/**
 * A retail trader: opens one market-order position when its entry time comes, takes profit or stops
 * its loss on the mark, and (if it is one who does) adds half its margin once when the mark comes
 * within ADD_MARGIN_DISTANCE of its liquidation price. Pure: the runner keeps the trader's state and
 * applies each outcome with `afterOutcome`.
 */
import { WAD } from "../../lib/units";
import type { RetailGroup } from "../scenario";
import { Pricing, SkewBeyondScale } from "../../lib/math";
import { anyPriceFor, type Intent, type Outcome } from "./intents";
import { skewOf, type MarketView, type PositionView } from "./view";

/** Slippage bound on a trader's opening order, from the index. */
export const RETAIL_SLIPPAGE = WAD / 20n;
/** A trader who adds margin does so when the mark is this close to the liquidation price (fraction of mark). */
export const ADD_MARGIN_DISTANCE = (WAD * 3n) / 100n;

/** waiting: before entry; open: holds a position; done: closed, liquidated, or refused its entry. */
export type RetailPhase = "waiting" | "open" | "done";

export interface RetailTrader {
  name: string;
  group: RetailGroup;
  entrySec: number;
  leverage: bigint;
  /** USD */
  margin: bigint;
  addsMargin: boolean;
  phase: RetailPhase;
  addedMargin: boolean;
  /** Whether its entry order filled. */
  opened: boolean;
}

export type RetailDecision = { intent: Intent; label: string; step: "open" | "close" | "addMargin" } | undefined;

/**
 * What the trader does at `tSec` (seconds since the start) on `market`; `position` is its open
 * position there, undefined when it has none (never opened, closed or liquidated).
 */
export function retailDecision(
  trader: RetailTrader,
  tSec: number,
  market: MarketView,
  position: PositionView | undefined,
): RetailDecision {
  if (trader.phase === "waiting") return tSec >= trader.entrySec ? openDecision(trader, market) : undefined;
  if (trader.phase !== "open" || position === undefined) return undefined;
  const { size, entryPrice } = position.position;
  const isLong = size > 0n;
  const mark = market.projected.mark;
  const move = ((mark - entryPrice) * WAD) / entryPrice;
  const gain = isLong ? move : -move;
  const { takeProfitPct: tp, stopLossPct: sl } = trader.group;
  if ((tp !== undefined && gain >= tp) || (sl !== undefined && -gain >= sl)) {
    const why = tp !== undefined && gain >= tp ? "take profit" : "stop loss";
    return {
      step: "close",
      label: `${why} on its ${trader.group.side}`,
      intent: { kind: "close", symbol: market.symbol, acceptablePrice: anyPriceFor(!isLong) },
    };
  }
  const liquidationPrice = position.health.liquidationPrice;
  if (trader.addsMargin && !trader.addedMargin && liquidationPrice > 0n) {
    const gap = liquidationPrice > mark ? liquidationPrice - mark : mark - liquidationPrice;
    if ((gap * WAD) / mark < ADD_MARGIN_DISTANCE) {
      return {
        step: "addMargin",
        label: `margin top-up on its ${trader.group.side}`,
        intent: { kind: "addMargin", symbol: market.symbol, amount: trader.margin / 2n },
      };
    }
  }
  return undefined;
}

/**
 * The size of an opening order of `margin` at `leverage`. The engine checks leverage on the equity at
 * the mark after the fill, and a fill worse than the mark is a loss from the first second: an order of
 * margin * leverage / mark at the tier's largest leverage would always be refused. So the trader sizes
 * for the fill: s = L * M / (mark + L * loss), where loss is how far the fill of the full-size order is
 * beyond the mark (per unit; 0 when it is better). The smaller order fills no worse, so it fits.
 */
export function openSize(trader: RetailTrader, market: MarketView): bigint {
  const { mark, index } = market.projected;
  const notional = (trader.margin * trader.leverage) / WAD;
  const long = trader.group.side === "long";
  const full = (notional * WAD) / mark;
  let fill: bigint;
  try {
    fill = Pricing.fillPrice(index, skewOf(market), long ? full : -full, market.skewScale);
  } catch (error) {
    if (error instanceof SkewBeyondScale) return full; // the engine will refuse it, and say so
    throw error;
  }
  const beyond = long ? fill - mark : mark - fill;
  const loss = beyond > 0n ? beyond : 0n;
  return (notional * WAD) / (mark + (trader.leverage * loss) / WAD);
}

function openDecision(trader: RetailTrader, market: MarketView): RetailDecision {
  const { index } = market.projected;
  const size = openSize(trader, market);
  const long = trader.group.side === "long";
  const bound = long ? (index * (WAD + RETAIL_SLIPPAGE)) / WAD : (index * (WAD - RETAIL_SLIPPAGE)) / WAD;
  return {
    step: "open",
    label: `${trader.group.side} entry`,
    intent: {
      kind: "increase",
      symbol: market.symbol,
      sizeDelta: long ? size : -size,
      margin: trader.margin,
      acceptablePrice: bound,
    },
  };
}

/**
 * The trader after an outcome: an entry that filled opens it, a refused one ends it (it does not
 * chase the market); a close ends it; a margin top-up is tried once, whatever its outcome. A close
 * the engine refused is tried again next step.
 */
export function afterOutcome(trader: RetailTrader, step: NonNullable<RetailDecision>["step"], outcome: Outcome): void {
  const done = outcome.kind === "done";
  if (step === "open") {
    trader.phase = done ? "open" : "done";
    trader.opened = done;
  } else if (step === "close" && done) trader.phase = "done";
  else if (step === "addMargin") trader.addedMargin = true;
}

/** The trader once its position is gone without its own doing (liquidated, deleveraged). */
export function afterPositionGone(trader: RetailTrader): void {
  if (trader.phase === "open") trader.phase = "done";
}
