/**
 * A retail trader on a coin-margined (inverse) market (SPEC 9.2): the same trader as sim/agents/retail.ts,
 * deciding on the engine's terms. The coin engine runs the market as a linear one on the price 1/P
 * (lib/coin-margined.ts), so a trader's long is the engine's short of size contracts * face, and a USD
 * move of the price is a move of the other sign, and another size, of the engine's price. This file
 * translates the trader once (side, take profit and stop loss), takes its margin in the coin at its
 * entry (the same USD value as its USD-margined twin's, at the price of the moment) and rounds each
 * opening order to whole contracts; `retailDecision` does the rest, unchanged. Pure.
 */
import { WAD } from "../../lib/units";
import { contractsOf, engineSize } from "../../lib/coin-margined";
import type { RetailGroup, Side } from "../scenario";
import { retailDecision, type RetailDecision, type RetailTrader } from "./retail";
import type { MarketView, PositionView } from "./view";

/** A coin-margined trader: a RetailTrader in the engine's terms, and what it is in its own. */
export interface CoinRetailTrader extends RetailTrader {
  /** The trader's own side (its `group.side` is the engine's, the other one). */
  side: Side;
  /** USD face of one contract (WAD). */
  faceUsd: bigint;
  /** The margin drawn for it, USD; `margin` is its value in coins at entry (0 before). */
  marginUsd: bigint;
}

/** The engine's move, as a fraction, when the USD price rises by `move` (1/(1+m) - 1 = -m/(1+m)): its size. */
function engineMoveOnRise(move: bigint): bigint {
  return (move * WAD) / (WAD + move);
}

/** The engine's move when the USD price falls by `move` (< 1): 1/(1-m) - 1 = m/(1-m). */
function engineMoveOnFall(move: bigint): bigint {
  return (move * WAD) / (WAD - move);
}

/**
 * The group as the engine trades it: the other side, and the take profit and the stop loss as moves of
 * the engine's price 1/P. A long's take profit is a USD rise of m, an engine fall of m/(1+m); its stop
 * loss a USD fall of m, an engine rise of m/(1-m); a short's the other way round. The schema keeps a
 * falling move below 1.
 */
export function engineGroup(group: RetailGroup): RetailGroup {
  const long = group.side === "long";
  const onRise = (m: bigint | undefined) => (m === undefined ? undefined : engineMoveOnRise(m));
  const onFall = (m: bigint | undefined) => (m === undefined ? undefined : engineMoveOnFall(m));
  return {
    ...group,
    side: long ? "short" : "long",
    takeProfitPct: long ? onRise(group.takeProfitPct) : onFall(group.takeProfitPct),
    stopLossPct: long ? onFall(group.stopLossPct) : onRise(group.stopLossPct),
  };
}

/** The trader drawn for a USD margin, on a coin market; its margin in coins comes at its entry (`entryMargin`). */
export function coinRetailTrader(trader: RetailTrader, faceUsd: bigint): CoinRetailTrader {
  return {
    ...trader,
    group: engineGroup(trader.group),
    margin: 0n,
    marginUsd: trader.margin,
    side: trader.group.side,
    faceUsd,
  };
}

/** Whether the trader enters at `tSec`: the step its margin must be taken in coins and deposited. */
export function entersAt(trader: CoinRetailTrader, tSec: number): boolean {
  return trader.phase === "waiting" && tSec >= trader.entrySec;
}

/** The trader's margin in coins on `market` now: its USD margin at the index (coin per USD), rounded down. */
export function entryMargin(trader: CoinRetailTrader, market: MarketView): bigint {
  return (trader.marginUsd * market.projected.index) / WAD;
}

/**
 * What the trader does (retailDecision on the engine's view), its opening order cut to whole contracts
 * (at least one) and labelled in the trader's terms.
 */
export function coinRetailDecision(
  trader: CoinRetailTrader,
  tSec: number,
  market: MarketView,
  position: PositionView | undefined,
): RetailDecision {
  const decision = retailDecision(trader, tSec, market, position);
  if (decision === undefined) return undefined;
  const label = `coin-margined ${trader.side} ${decision.step}`;
  if (decision.intent.kind !== "increase") return { ...decision, label };
  const face = decision.intent.sizeDelta < 0n ? -decision.intent.sizeDelta : decision.intent.sizeDelta;
  const whole = contractsOf(face, trader.faceUsd).contracts;
  const contracts = whole > 0n ? whole : 1n;
  return {
    ...decision,
    label: `${label} of ${contracts} contracts`,
    intent: { ...decision.intent, sizeDelta: engineSize(contracts, trader.faceUsd, trader.side === "long") },
  };
}
