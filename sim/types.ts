/**
 * What a simulation run produces: a timeline row per step, every liquidation, the agents' PnL
 * series and a summary per market. The runner fills these; sim/output.ts writes them to disk and
 * sim/report.ts draws them.
 *
 * Units: every bigint is a WAD (18 decimals): prices in USD per base unit, sizes and open interest
 * in base units, money in USD, rates and moves as fractions (0.05 = 5%). `t` is whole seconds since
 * the scenario's start; blocks, steps and counts are plain numbers.
 * Signs: `*Pnl` and `*Delta` are positive when the named party gains; `*Loss`, `*Cost`, `*Paid` and
 * `badDebt` are positive when it loses or pays.
 */
import type { Scenario, Side } from "./scenario";
import type { ActionCounts } from "./agents/intents";

/** A WAD: 18-decimal fixed point. */
export type Wad = bigint;

/** One market at the end of a step. */
export interface MarketStep {
  symbol: string;
  /** Spot pool price. */
  spot: Wad;
  /** Oracle index: median of the fresh sources. */
  index: Wad;
  /** Mark price, the one liquidations use. */
  mark: Wad;
  /** Perp last price: index * (1 + skew / skewScale). */
  last: Wad;
  /** Funding rate per interval the market would settle now; > 0: longs pay shorts. */
  fundingRate: Wad;
  /** Open interest, base units. */
  oiLong: Wad;
  oiShort: Wad;
  /** Insurance fund backing this market, USD (the whole fund when there is one for all markets). */
  insuranceFund: Wad;
  /** LP pool value (assets plus its PnL against traders), USD. */
  poolValue: Wad;
  /** Liquidations executed during this step. */
  liquidations: number;
}

/**
 * One coin-margined market at the end of a step, in the trader's terms (SPEC 9.2): a USD market's fields
 * but spot (it has no pool of its own), with `index`, `mark` and `last` in USD per coin (1/the engine's:
 * the index is 1/the underlying's), `fundingRate` > 0 when the traders' longs pay their shorts, the
 * traders' sides (the engine's long is the trader's short) and open interest in USD face (contracts *
 * faceUsd), and `insuranceFund` and `poolValue` (assets plus its PnL against traders) in the coin, from
 * the coin's vault.
 */
export type CoinMarketStep = Omit<MarketStep, "spot">;

export interface TimelineRow {
  /** Seconds since the start. */
  t: number;
  /** 0 for the state before the first step, then 1, 2, ... */
  step: number;
  block: number;
  /** In the scenario's market order. */
  markets: MarketStep[];
  /** Only in a scenario with coin-margined markets, in their order. */
  coinMarkets?: CoinMarketStep[];
}

export interface LiquidationEvent {
  /** Seconds since the start. */
  t: number;
  block: number;
  market: string;
  positionId: bigint;
  side: Side;
  /** Size closed, base units (> 0). */
  size: Wad;
  /** Mark price the position closed at. */
  price: Wad;
  /** size * price, USD. */
  notional: Wad;
  /** Address of the liquidating keeper. */
  keeper: string;
  /** Cascade round: 1 for a liquidation nothing else liquidated caused, n + 1 for one that round n led to. */
  round: number;
  /** Seconds since the start when the mark first crossed this position's liquidation price; null if not observed. */
  crossedAt: number | null;
}

export type AgentKind = "retail" | "marketMaker" | "arbitrageur" | "lp";

export interface PnlPoint {
  /** Seconds since the start. */
  t: number;
  /** Cumulative PnL (realised and unrealised, after fees and funding), USD. */
  pnl: Wad;
}

/** One line of the agents' PnL chart: an agent, or a group of agents summed. */
export interface AgentPnlSeries {
  agent: string;
  kind: AgentKind;
  points: PnlPoint[];
}

/** Largest move of a price from its value at the start, as fractions: up >= 0, down <= 0. */
export interface PeakMove {
  up: Wad;
  down: Wad;
}

/** Squeeze economics at one move size, from the spot pool and the open positions at one moment. */
export interface SqueezePoint {
  /** The move, in whole percent: 5 means +5% for the *Up fields and -5% for the *Down fields. */
  movePct: number;
  /** USD a trader must spend on the spot pool to lift the price by movePct. */
  costUp: Wad;
  /** USD value (at the pre-push price) of the coins to sell to lower the price by movePct. */
  costDown: Wad;
  /** Short notional, USD, whose liquidation price lies within the rise. */
  liquidatableUp: Wad;
  /** Long notional, USD, whose liquidation price lies within the fall. */
  liquidatableDown: Wad;
}

export interface MarketSummary {
  symbol: string;
  /** Retail positions opened, and how many of them were liquidated. */
  traders: number;
  tradersLiquidated: number;
  /** All liquidations on this market, whoever owned the position. */
  liquidations: number;
  liquidatedNotional: Wad;
  /** Retail traders' net loss, USD, after fees and funding. */
  tradersLoss: Wad;
  /** USD the market maker spent on spot buys. */
  marketMakerCost: Wad;
  /** Market maker's end value (cash, coins at the final spot, perp equity) minus its budget: perp + spot. */
  marketMakerPnl: Wad;
  /** The perp leg: its vault deposit's end value (free balance and the position's equity) minus the deposit. */
  marketMakerPnlPerp: Wad;
  /** The spot leg: its wallet's end value (USD and coins at the final spot) minus what the wallet started with. */
  marketMakerPnlSpot: Wad;
  insuranceFundDelta: Wad;
  poolPnl: Wad;
  fundingPaidLongs: Wad;
  fundingPaidShorts: Wad;
  /** Losses beyond positions' margins, USD, before the insurance fund covered them. */
  badDebt: Wad;
  adlCount: number;
  peakMove: { spot: PeakMove; index: PeakMove; mark: PeakMove; last: PeakMove };
  /** Longest chain of liquidation rounds, each caused by the one before. */
  cascadeDepth: number;
  maxLiquidationsPerBlock: number;
  /** Median seconds from the mark crossing a liquidation price to the liquidation; null without any. */
  medianCrossingToLiquidationSec: number | null;
  /** One point per move in SQUEEZE_MOVES_PCT. */
  squeeze: SqueezePoint[];
}

/** The attacker of a replay (SPEC 9.4) at the end of the run, USD. */
export interface AttackerSummary {
  market: string;
  /** Each perp account: its deposit, its end value (free balance + the position's equity, at least 0), liquidations. */
  accounts: { name: string; deposit: Wad; value: Wad; liquidations: number }[];
  /** USD its spot buys spent. */
  spotSpent: Wad;
  /** The accounts' end values minus their deposits. */
  perpPnl: Wad;
  /** The wallet's end value (USD and coins at the final spot) minus the spot budget. */
  spotPnl: Wad;
  /** perpPnl + spotPnl: what the attack made (negative: what it cost). */
  pnl: Wad;
}

/**
 * A coin-margined (inverse) market at the end of the run (SPEC 9.2). Its money is in its coin (`*Coin`);
 * each USD figure says at which price it is taken: `*UsdAtEnd` at the underlying's index at the end,
 * `*UsdAtTime` at the index when it happened. Its sizes are USD face (contracts * faceUsd).
 */
export interface CoinMarketSummary {
  symbol: string;
  /** The USD market whose coin margins it and whose index it inverts. */
  underlying: string;
  /** The coin. */
  asset: string;
  faceUsd: Wad;
  /** The underlying's USD index at the start and at the end. */
  priceStartUsd: Wad;
  priceEndUsd: Wad;
  /** Retail positions opened, and how many of them were liquidated. */
  traders: number;
  tradersLiquidated: number;
  liquidations: number;
  /** USD face liquidated. */
  liquidatedFaceUsd: Wad;
  /** Seconds since the start of the first liquidation; null without any. */
  firstLiquidationSec: number | null;
  medianCrossingToLiquidationSec: number | null;
  /**
   * The traders' coins: deposited at their entries (twice the margin, the margin being their USD margin in
   * coins at the index then), and held at the end (free balance + the position's equity, at least 0).
   */
  tradersDepositCoin: Wad;
  /** The deposits' USD value at the index of each entry: what a USD-margined twin deposits. */
  tradersDepositUsdAtTime: Wad;
  tradersValueCoin: Wad;
  tradersValueUsdAtEnd: Wad;
  /** Deposit minus value, in the coin: what the trading lost. */
  tradersLossCoin: Wad;
  tradersLossUsdAtEnd: Wad;
  /**
   * The USD value the traders lost: tradersDepositUsdAtTime - tradersValueUsdAtEnd. It counts the coin's
   * own move too: what a USD-margined group's `tradersLoss` compares with.
   */
  tradersUsdValueLost: Wad;
  /** Losses beyond positions' margins, before the coin engine's insurance fund covered them. */
  badDebtCoin: Wad;
  badDebtUsdAtTime: Wad;
  /** The coin LP pool's value (assets plus its PnL against traders) at the end minus at the start. */
  poolPnlCoin: Wad;
  poolPnlUsdAtEnd: Wad;
  insuranceFundDeltaCoin: Wad;
  adlCount: number;
}

export interface Summary {
  scenario: string;
  seed: number;
  durationSec: number;
  stepSec: number;
  blocks: number;
  /** Every agent action per kind of agent: attempted, done, and refused by custom error name. */
  actions: ActionCounts;
  /** In the scenario's market order. */
  markets: MarketSummary[];
  /** Only in a scenario with an attacker. */
  attacker?: AttackerSummary;
  /** Only in a scenario with coin-margined markets, in their order. */
  coinMargined?: CoinMarketSummary[];
}

/** Everything one run produced, as the report needs it. */
export interface SimulationResult {
  scenario: Scenario;
  summary: Summary;
  timeline: TimelineRow[];
  liquidations: LiquidationEvent[];
  pnl: AgentPnlSeries[];
  /**
   * The coin-margined markets' liquidations, only with coin markets: `side` the trader's, `price` the
   * underlying's USD price, `notional` the USD face, `size` the face in coins at that price.
   */
  coinLiquidations?: LiquidationEvent[];
}
