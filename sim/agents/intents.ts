/**
 * What agents want and what became of it. A decision function (sim/agents/*.ts) looks at a view of
 * the market and returns intents; the runner's shell turns each intent into one transaction and
 * records its outcome: done, or refused with the custom error the contracts raised. The ledger counts
 * every outcome per agent kind, and that count is the summary's `actions`.
 *
 * An intent the scenario promises (the market maker's perp position, a spot push, the oracle's
 * updates) is not optional: its refusal stops the run with a message naming the action and the error,
 * because the story the scenario tells would no longer be the one the run shows. Retail traders and
 * the arbitrageur may be refused (an open-interest cap, a fill outside their slippage bound): that is
 * counted and the run goes on.
 */
import type { Side } from "../scenario";

/**
 * Who acts. "oracle" is the feeds' pushes and the per-step funding sample; "keeper" counts what the
 * keeper's ticks report (its liquidations, settlements and executions; a race lost to another keeper
 * as refused "LostRace").
 */
export type ActorKind = "retail" | "marketMaker" | "arbitrageur" | "attacker" | "oracle" | "keeper";

export const ACTOR_KINDS: readonly ActorKind[] = [
  "retail",
  "marketMaker",
  "arbitrageur",
  "attacker",
  "oracle",
  "keeper",
];

/**
 * `acceptablePrice` bounds for a market order that takes whatever the fill is: a buy accepts any
 * price up to this, a sell any price down to 0. 2^255 rather than 2^256 - 1 keeps the bound clear of
 * any signed conversion on the way.
 */
export const ANY_BUY_PRICE = 2n ** 255n;
export const ANY_SELL_PRICE = 0n;
/** An ERC-20 allowance that the simulation never exhausts. */
export const UNLIMITED_ALLOWANCE = 2n ** 255n;

/** Any price when the order buys (closing a short, opening a long), any price when it sells. */
export function anyPriceFor(buys: boolean): bigint {
  return buys ? ANY_BUY_PRICE : ANY_SELL_PRICE;
}

export type Intent =
  /** A market order that opens or increases: signed size (base units), margin (USD), price bound. */
  | { kind: "increase"; symbol: string; sizeDelta: bigint; margin: bigint; acceptablePrice: bigint }
  /** A market order that reduces by `size` (absolute, base units). */
  | { kind: "decrease"; symbol: string; size: bigint; acceptablePrice: bigint }
  | { kind: "close"; symbol: string; acceptablePrice: bigint }
  | { kind: "addMargin"; symbol: string; amount: bigint }
  /** Margin (USD) back to the free balance; the engine keeps the tier's initial margin. */
  | { kind: "removeMargin"; symbol: string; amount: bigint }
  /** Spot: USD in (6 decimals) for coins, or coins in (18 decimals) for USD; `venue` 0 (the default) is the market's pool. */
  | { kind: "spotBuy"; symbol: string; usd6: bigint; venue?: number }
  | { kind: "spotSell"; symbol: string; coins: bigint; venue?: number }
  /** A pushed feed's new answer (8 decimals). */
  | { kind: "pushPrice"; symbol: string; feed: number; answer: bigint }
  | { kind: "settleFunding"; symbol: string };

/** An intent from one agent, with what it is for. */
export interface Action {
  actor: ActorKind;
  /** The agent, e.g. "retail-0-3", "market maker". */
  agent: string;
  /** What the action is, for a refusal's message: "5x long of 25,000 USD at 11 h". */
  label: string;
  /** Whether the run may go on without it. */
  optional: boolean;
  intent: Intent;
}

export type Outcome = { kind: "done" } | { kind: "refused"; error: string; message: string };

export const DONE: Outcome = { kind: "done" };

/** The summary's count per actor kind. `refused` maps a custom error's name to how often it came. */
export interface ActionCount {
  attempted: number;
  done: number;
  refused: Record<string, number>;
}

export type ActionCounts = Record<ActorKind, ActionCount>;

/** A refusal the run cannot go on without. */
export class RequiredActionRefused extends Error {
  override name = "RequiredActionRefused";

  constructor(
    readonly action: Action,
    readonly outcome: Extract<Outcome, { kind: "refused" }>,
    atSec: number,
  ) {
    super(
      `the ${action.agent}'s ${action.label} was refused at ${formatHours(atSec)} h: ${outcome.error} (${outcome.message}); ` +
        "the scenario does not mark it optional, so the run stops rather than tell a different story",
    );
  }
}

function formatHours(sec: number): string {
  return String(Math.round((sec / 3600) * 100) / 100);
}

/** Counts outcomes per actor kind; remembers the refusals worth naming in the report. */
export class ActionLedger {
  private readonly counts = Object.fromEntries(ACTOR_KINDS.map((kind) => [kind, emptyCount()])) as ActionCounts;

  /** Records one outcome; throws RequiredActionRefused for a refused action that is not optional. */
  record(action: Action, outcome: Outcome, atSec: number): void {
    const count = this.counts[action.actor];
    count.attempted++;
    if (outcome.kind === "done") {
      count.done++;
      return;
    }
    count.refused[outcome.error] = (count.refused[outcome.error] ?? 0) + 1;
    if (!action.optional) throw new RequiredActionRefused(action, outcome, atSec);
  }

  /** Counts what the keeper did in one tick: `done` transactions, `lostRaces` beaten by another keeper. */
  recordKeeper(done: number, lostRaces: number): void {
    const count = this.counts.keeper;
    count.attempted += done + lostRaces;
    count.done += done;
    if (lostRaces > 0) count.refused.LostRace = (count.refused.LostRace ?? 0) + lostRaces;
  }

  /** A copy, with each refusal map's keys sorted. */
  snapshot(): ActionCounts {
    const copy = (c: ActionCount): ActionCount => ({
      attempted: c.attempted,
      done: c.done,
      refused: Object.fromEntries(Object.entries(c.refused).sort(([a], [b]) => a.localeCompare(b))),
    });
    return Object.fromEntries(ACTOR_KINDS.map((kind) => [kind, copy(this.counts[kind])])) as ActionCounts;
  }
}

function emptyCount(): ActionCount {
  return { attempted: 0, done: 0, refused: {} };
}

/** The side a signed size is on. */
export function sideOf(size: bigint): Side {
  return size > 0n ? "long" : "short";
}
