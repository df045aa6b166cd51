/**
 * The arbitrageur: when the perp's last price strays from the index by more than its threshold, it
 * takes the other side of the skew (a position of -skew, its own included), up to its largest
 * notional, at ARB_LEVERAGE. Pure: a market view and its own position in, intents out.
 */
import { WAD } from "../../lib/units";
import type { ArbitrageurPlan } from "../scenario";
import { anyPriceFor, type Action } from "./intents";
import { skewOf, type MarketView } from "./view";

/** The arbitrageur's leverage. */
export const ARB_LEVERAGE = 3n;
const BPS = 10_000n;

/** The arbitrageur's trades on `market` given its own signed position size `own`. */
export function arbitrageActions(plan: ArbitrageurPlan, market: MarketView, own: bigint): Action[] {
  const { index, last } = market.projected;
  const premiumBps = ((last - index) * BPS) / index;
  const threshold = BigInt(plan.thresholdBps);
  if (premiumBps <= threshold && premiumBps >= -threshold) return [];
  const cap = (plan.maxNotionalUsd * WAD) / index;
  let target = -(skewOf(market) - own);
  if (target > cap) target = cap;
  if (target < -cap) target = -cap;
  const action = (label: string, intent: Action["intent"]): Action => ({
    actor: "arbitrageur",
    agent: "arbitrageur",
    label,
    optional: true,
    intent,
  });
  const increase = (delta: bigint): Action =>
    action(`${delta > 0n ? "long" : "short"} against a ${premiumBps} bps premium`, {
      kind: "increase",
      symbol: market.symbol,
      sizeDelta: delta,
      margin: (abs(delta) * index) / WAD / ARB_LEVERAGE,
      acceptablePrice: anyPriceFor(delta > 0n),
    });
  if (own !== 0n && (target === 0n || own > 0n !== target > 0n)) {
    const close = action("close before turning", {
      kind: "close",
      symbol: market.symbol,
      acceptablePrice: anyPriceFor(own < 0n),
    });
    return target === 0n ? [close] : [close, increase(target)];
  }
  const delta = target - own;
  if (delta === 0n) return [];
  if (abs(target) > abs(own)) return [increase(delta)];
  return [
    action("reduce toward the index", {
      kind: "decrease",
      symbol: market.symbol,
      size: abs(delta),
      acceptablePrice: anyPriceFor(delta > 0n),
    }),
  ];
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}
