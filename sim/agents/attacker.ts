/**
 * The attacker of SPEC 9.4 (JELLY 2025, Mango 2022): several perp accounts on one market and a spot
 * wallet, and a plan of dated steps. The pattern: open both sides so the pool carries no risk yet;
 * take margin out of one side so that it is liquidated into the pool as soon as the price moves;
 * buy spot on the venues the index follows; close the winning side at the pumped mark; sell the coins.
 * The pool, every trader's counterparty, pays the winning side and is left holding the loser's loss.
 *
 * Pure: the runner brings the market view, each account's position and the wallet; this returns the
 * step's actions in plan order, each with the account that sends it. Every action is optional: a
 * protection that refuses one (an open-interest cap, a leverage check) is what a sweep measures, so
 * the refusal is counted and the run goes on.
 */
import { WAD } from "../../lib/units";
import type { TrackedPosition } from "../../keeper/book";
import type { AttackerPlan, AttackStep } from "../scenario";
import { anyPriceFor, type Action } from "./intents";
import { afterOrder, viewPosition, type MarketView } from "./view";

const USD6_TO_WAD = 10n ** 12n;
/**
 * Margin left above the target leverage's when taking margin out, as a fraction: the engine checks
 * the initial margin at the mark of the block the removal lands in, which the view only projects.
 */
export const REMOVE_MARGIN_SAFETY = WAD / 1_000n;
/** The account name of the attacker's spot wallet. */
export const SPOT_WALLET = "spot";

/** An action and the attacker account that sends it (SPOT_WALLET for spot trades). */
export interface AttackerAction {
  account: string;
  action: Action;
}

export interface AttackerInput {
  plan: AttackerPlan;
  /** The step ends at tSec; steps due in (tSec - stepSec, tSec] are taken. */
  tSec: number;
  stepSec: number;
  market: MarketView;
  /** The market's open-interest cap per side, base units (the protection's when it is set). */
  maxOpenInterest: bigint;
  /** Each account's open position on the market, if any. */
  positions: ReadonlyMap<string, TrackedPosition | undefined>;
  /** Coins in the spot wallet (18 decimals). */
  coins: bigint;
}

/** The attacker's actions due in this step, in plan order. */
export function attackerActions(input: AttackerInput): AttackerAction[] {
  const { plan, tSec, stepSec } = input;
  let market = input.market;
  const out: AttackerAction[] = [];
  for (const step of plan.steps) {
    if (!(step.atSec > tSec - stepSec && step.atSec <= tSec)) continue;
    const made = stepActions(step, { ...input, market });
    for (const a of made) {
      // A later open in the same step meets the skew and open interest this one left.
      if (a.action.intent.kind === "increase") market = afterOrder(market, a.action.intent.sizeDelta);
      out.push(a);
    }
  }
  return out;
}

/** Whether any step falls in the step ending at `tSec` (so the runner reads the attacker's state only then). */
export function attackerActsIn(plan: AttackerPlan, tSec: number, stepSec: number): boolean {
  return plan.steps.some((s) => s.atSec > tSec - stepSec && s.atSec <= tSec);
}

function stepActions(step: AttackStep, input: AttackerInput): AttackerAction[] {
  const symbol = input.plan.market;
  const action = (account: string, label: string, intent: Action["intent"]): AttackerAction => ({
    account,
    action: { actor: "attacker", agent: `attacker ${account}`, label, optional: true, intent },
  });
  switch (step.do) {
    case "open": {
      const { size, margin } = openSize(step, input);
      const long = step.side === "long";
      return [
        action(step.account, `${step.side} of ${formatWad(size)} on ${formatWad(margin)} USD of margin`, {
          kind: "increase",
          symbol,
          sizeDelta: long ? size : -size,
          margin,
          acceptablePrice: anyPriceFor(long),
        }),
      ];
    }
    case "removeMargin": {
      const amount = removableMargin(input, step.account, step.toLeverage);
      if (amount === undefined) return [];
      return [
        action(step.account, `margin out down to ${formatWad(step.toLeverage)}x`, {
          kind: "removeMargin",
          symbol,
          amount,
        }),
      ];
    }
    case "close": {
      const p = input.positions.get(step.account);
      if (p === undefined) return [];
      return [action(step.account, "close", { kind: "close", symbol, acceptablePrice: anyPriceFor(p.size < 0n) })];
    }
    case "spotBuy": {
      const each6 = step.usd / BigInt(step.venues.length) / USD6_TO_WAD;
      return step.venues.map((venue) =>
        action(SPOT_WALLET, `spot buy of ${formatWad(each6 * USD6_TO_WAD)} USD on venue ${venue}`, {
          kind: "spotBuy",
          symbol,
          usd6: each6,
          venue,
        }),
      );
    }
    case "spotSell": {
      const each = (input.coins * step.share) / WAD / BigInt(step.venues.length);
      if (each === 0n) return [];
      return step.venues.map((venue) =>
        action(SPOT_WALLET, `spot sale of ${formatWad(each)} coins on venue ${venue}`, {
          kind: "spotSell",
          symbol,
          coins: each,
          venue,
        }),
      );
    }
  }
}

/**
 * An open's size (base units: the plan's, or its USD notional at the index) and margin, cut to the
 * room the open-interest cap leaves on its side, the margin in proportion. A full side still sends
 * the whole order, which the engine refuses: the refusal is the protection at work, and it is counted.
 */
export function openSize(
  step: Extract<AttackStep, { do: "open" }>,
  input: Pick<AttackerInput, "market" | "maxOpenInterest">,
): { size: bigint; margin: bigint } {
  const { index, state } = input.market.projected;
  const wanted = step.size ?? (step.notionalUsd! * WAD) / index;
  const open = step.side === "long" ? state.longOpenInterest : state.shortOpenInterest;
  const room = input.maxOpenInterest > open ? input.maxOpenInterest - open : 0n;
  if (room === 0n || wanted <= room) return { size: wanted, margin: step.marginUsd };
  return { size: room, margin: (step.marginUsd * room) / wanted };
}

/**
 * The margin to take out so the position's leverage at mark is `toLeverage` (plus the safety): its
 * equity minus notional / toLeverage. Undefined when there is no position or nothing to take.
 */
export function removableMargin(
  input: Pick<AttackerInput, "market" | "positions">,
  account: string,
  toLeverage: bigint,
): bigint | undefined {
  const p = input.positions.get(account);
  if (p === undefined) return undefined;
  const { health } = viewPosition(p, input.market);
  const abs = p.size < 0n ? -p.size : p.size;
  const notional = (abs * input.market.projected.mark) / WAD;
  const keep = ceilDiv(notional * (WAD + REMOVE_MARGIN_SAFETY), toLeverage);
  const amount = health.equity - keep;
  const limit = p.margin < amount ? p.margin : amount;
  return limit > 0n ? limit : undefined;
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
