/**
 * The market maker: its perp position opens at its time, and its spot pushes go out in order. Pure:
 * the runner brings what the market maker holds and the spot price, and executes the intents. Every
 * action here is one the scenario promises, so none of them is optional.
 *
 * Its budget is split once, at the start: the vault gets the perp position's margin and the fee of
 * opening it (the fee comes from the free balance, on top of the margin), the wallet keeps the rest
 * for spot buys. Its PnL splits the same way: the perp leg is what the vault deposit became (free
 * balance plus the position's equity), the spot leg what the wallet became (USD plus coins at spot).
 */
import { WAD } from "../../lib/units";
import type { MarketMakerPlan } from "../scenario";
import { type Action } from "./intents";
import type { MarketView } from "./view";

/** Slippage bound on the market maker's perp order, from the index. */
export const MARKET_MAKER_SLIPPAGE = WAD / 20n;
const USD6_TO_WAD = 10n ** 12n;

/**
 * USD the market maker deposits in the vault: the perp margin and the taker fee on the largest notional
 * its order can fill at (margin * leverage, the fill up to MARKET_MAKER_SLIPPAGE above the mark),
 * rounded up to a whole cent-of-a-micro-dollar (6 decimals) so the vault can hold it.
 */
export function marketMakerDeposit(plan: MarketMakerPlan, takerFee: bigint): bigint {
  const perp = plan.perpPosition;
  if (perp === undefined) return 0n;
  const notional = (perp.marginUsd * perp.leverage) / WAD;
  const fee = ceilDiv(notional * (WAD + MARKET_MAKER_SLIPPAGE) * takerFee, WAD * WAD);
  return ceilDiv(perp.marginUsd + fee, USD6_TO_WAD) * USD6_TO_WAD;
}

/** What the market maker holds outside the vault, and the spot price it would sell at. */
export interface MarketMakerWallet {
  /** Collateral, 6 decimals. */
  usd6: bigint;
  /** Coins, 18 decimals. */
  coins: bigint;
  /** Spot price, WAD. */
  spot: bigint;
}

/**
 * The market maker's actions in the step that ends at `tSec` (those due in (tSec - stepSec, tSec]):
 * the perp position first, then the pushes in plan order. A buy spends the push's USD, or what is
 * left of the wallet; a sale sells the push's USD worth of coins at `wallet.spot`, or what is left.
 * An amount that comes to zero is still sent: the chain refuses it and the run says so.
 */
export function marketMakerActions(
  plan: MarketMakerPlan,
  tSec: number,
  stepSec: number,
  market: MarketView,
  wallet: MarketMakerWallet,
): Action[] {
  const due = (atSec: number) => atSec > tSec - stepSec && atSec <= tSec;
  const actions: Action[] = [];
  const perp = plan.perpPosition;
  if (perp !== undefined && due(perp.atSec)) {
    const { mark, index } = market.projected;
    const size = (perp.marginUsd * perp.leverage) / mark;
    const long = perp.side === "long";
    const bound = long ? (index * (WAD + MARKET_MAKER_SLIPPAGE)) / WAD : (index * (WAD - MARKET_MAKER_SLIPPAGE)) / WAD;
    actions.push({
      actor: "marketMaker",
      agent: "market maker",
      label: `${formatWad(perp.leverage)}x perp ${perp.side} on ${formatWad(perp.marginUsd)} USD of margin`,
      optional: false,
      intent: {
        kind: "increase",
        symbol: plan.market,
        sizeDelta: long ? size : -size,
        margin: perp.marginUsd,
        acceptablePrice: bound,
      },
    });
  }
  let { usd6, coins } = wallet;
  for (const push of plan.pushes) {
    if (!due(push.atSec)) continue;
    const label = `spot ${push.side} of ${formatWad(push.usd)} USD`;
    if (push.side === "buy") {
      const want6 = push.usd / USD6_TO_WAD;
      const amount = want6 < usd6 ? want6 : usd6;
      usd6 -= amount;
      actions.push({
        actor: "marketMaker",
        agent: "market maker",
        label,
        optional: false,
        intent: { kind: "spotBuy", symbol: plan.market, usd6: amount },
      });
    } else {
      const want = (push.usd * WAD) / wallet.spot;
      const amount = want < coins ? want : coins;
      coins -= amount;
      actions.push({
        actor: "marketMaker",
        agent: "market maker",
        label,
        optional: false,
        intent: { kind: "spotSell", symbol: plan.market, coins: amount },
      });
    }
  }
  return actions;
}

/** Whether the market maker acts in the step ending at `tSec` (so the runner reads its wallet only then). */
export function marketMakerActsIn(plan: MarketMakerPlan, tSec: number, stepSec: number): boolean {
  const due = (atSec: number) => atSec > tSec - stepSec && atSec <= tSec;
  return (plan.perpPosition !== undefined && due(plan.perpPosition.atSec)) || plan.pushes.some((p) => due(p.atSec));
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/** A WAD as a short human number for labels (whole units, or two decimals below 100). */
function formatWad(value: bigint): string {
  const whole = value / WAD;
  if (whole >= 100n) return whole.toLocaleString("en-US");
  return (Number((value * 100n) / WAD) / 100).toString();
}
